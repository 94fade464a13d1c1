"""The `jiayi` command: Flask's CLI plus the platform's own commands."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple


def main() -> None:
    from server import create_app
    cli = FlaskGroup(create_app=lambda: create_app(), help="家医 Jiayi platform commands.")
    cli.main(prog_name="jiayi")


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(assess_command)
    app.cli.add_command(import_command)
    from server.sandbox.cli import sandbox_command
    app.cli.add_command(sandbox_command)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs; exactly one such process may run per region (a lock enforces it)."""
    from flask import current_app

    from server.jobs import scheduler
    try:
        scheduler.run(current_app._get_current_object())
    except scheduler.SchedulerAlreadyRunning as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("assess")
@click.option("--region", "region_code", required=True, help="The region's administrative-division code (6 digits).")
@click.option("--year", required=True, type=int, help="The assessed year.")
@click.option("--scheme", "scheme_id", type=int, default=None, help="A scheme id; default: the year's newest scheme.")
@with_appcontext
def assess_command(region_code: str, year: int, scheme_id: int | None) -> None:
    """Compute a draft assessment run for a region's year and print each institution's total and grade."""
    from server.assessment import runs
    from server.errors import DomainError
    from server.identity.roles import SYSTEM_ACTOR
    from server.regions.rules import GRADE_NAMES

    try:
        region = runs.region_by_code(region_code)
        actor = dataclasses.replace(SYSTEM_ACTOR, region_id=region.id)
        run = runs.start_run(actor, year=year, scheme_id=scheme_id)
        lines = runs.summary(run.id)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"{region.name} {year}年度考核 第{run.run_version}版（草稿，编号 {run.id}）")
    for code, name, total, grade in lines:
        click.echo(f"  {code}  {name}  {total}分  {GRADE_NAMES.get(grade, grade)}")


@click.command("import")
@click.option("--region", "region_code", help="The region's administrative-division code (6 digits), for FILES.")
@click.option("--kind", type=click.Choice(("claims", "roster", "benefits")), help="What FILES hold.")
@click.option("--drop-folder", type=click.Path(file_okay=False, path_type=Path),
              help="Load every file waiting in DIR/<region code>/ named <kind>….csv|.jsonl (what the scheduled job does).")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(region_code: str | None, kind: str | None, drop_folder: Path | None, files: tuple[Path, ...]) -> None:
    """Load files from the bureau's core system: settled claims, roster changes, benefit registrations."""
    from server.errors import DomainError
    from server.imports import exchange

    if drop_folder is not None:
        for result in exchange.import_drop_folder(drop_folder):
            click.echo(f"{result.path.name}: " + (f"批次 {result.batch_id}" if result.error is None else result.error))
        return
    if not files or region_code is None or kind is None:
        raise click.UsageError("give --region, --kind and FILES, or --drop-folder DIR")
    for path in files:
        try:
            batch = exchange.import_path(region_code, kind, path)
        except DomainError as exc:
            raise click.ClickException(f"{path.name}: {exc.code}: {exc.message}") from exc
        click.echo(f"{path.name}: 批次 {batch.id}，共 {batch.rows_total} 行，新存 {batch.rows_stored}，"
                   f"已有 {batch.rows_already_stored}，跳过 {batch.rows_skipped}，失败 {batch.rows_failed}；"
                   f"影响 {batch.changes}")
        for failure in batch.failures[:20]:
            click.echo(f"  第{failure['line']}行 {failure['code']} {failure['message']}")


@click.command("seed-demo")
@click.option("--residents", default=2400, show_default=True, help="How many residents to create.")
@with_appcontext
def seed_demo_command(residents: int) -> None:
    """Load the demo region into the configured database (schema must be migrated)."""
    from server.demo.seed import seed_demo
    summary = seed_demo(residents=residents)
    click.echo(summary.describe())


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--sandbox-port", default=5100, show_default=True, type=int,
              help="Where the WeChat / WeChat Pay / insurance sandbox listens.")
@click.option("--residents", default=2400, show_default=True)
@with_appcontext
def demo_command(host: str, port: int, sandbox_port: int, residents: int) -> None:
    """Migrate, load the demo region if empty, start the sandbox, and serve the platform."""
    from flask import current_app

    from server.demo.seed import demo_already_loaded, seed_demo, sign_in_help, write_demo_patients
    from server.extensions import db
    from server.integrations import registry
    from server.jobs import scheduler
    from server.sandbox.cli import config_from_settings
    from server.sandbox.server import SandboxServer
    from server.web.headers import RequestHandler

    app = current_app._get_current_object()
    settings = app.config["JIAYI_SETTINGS"]
    if settings.env == "production":
        raise click.ClickException("the demo starts a sandbox that accepts any payment: never in production")
    upgrade()
    if demo_already_loaded():
        click.echo("演示数据已存在，直接启动。\n" + sign_in_help())
    else:
        click.echo(seed_demo(residents=residents).describe())
    sandbox = SandboxServer(config_from_settings(settings, os.path.join(app.instance_path, "sandbox-keys")),
                            port=sandbox_port)
    sandbox_url = sandbox.start()
    # The outside services are the sandbox, and WeChat Pay notifies this very server.
    registry.init_app(app, dataclasses.replace(
        settings, wechat_api_base=sandbox_url, wechatpay_api_base=sandbox_url, insurance_api_base=sandbox_url,
        wechatpay_notify_url=f"http://127.0.0.1:{port}/api/mp/v1/payments/notify"))
    click.echo(write_demo_patients(app.instance_path))
    db.session.remove()  # end the command's own transaction: on SQLite it would hold the write lock
    click.echo(f"沙箱 Sandbox (WeChat, WeChat Pay v3, insurance platform): {sandbox_url}")
    click.echo(f"Jiayi 已启动: http://{host}:{port}/api/docs  (健康检查 /healthz, 就绪检查 /readyz)")
    try:
        # The jobs start once the registry points at the sandbox: they query WeChat Pay and send messages there.
        with scheduler.in_background(app) as jobs:
            click.echo("定时任务随演示运行（订单查询结算每2分钟一次）" if jobs else
                       "定时任务未启动：另一个调度进程（jiayi scheduler）正在运行")
            # Flask's CLI makes app.run() a no-op, so serve through werkzeug directly.
            run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=RequestHandler)
    finally:
        sandbox.stop()
