"""The `jiayi` command: Flask's CLI plus the platform's own commands."""
from __future__ import annotations

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
@click.option("--residents", default=2400, show_default=True)
@with_appcontext
def demo_command(host: str, port: int, residents: int) -> None:
    """Migrate the database, load the demo region if it is empty, and serve the platform."""
    from flask import current_app

    from server.demo.seed import demo_already_loaded, seed_demo
    upgrade()
    if demo_already_loaded():
        click.echo("演示数据已存在，直接启动。")
        from server.demo.seed import sign_in_help
        click.echo(sign_in_help())
    else:
        click.echo(seed_demo(residents=residents).describe())
    click.echo(f"Jiayi 已启动: http://{host}:{port}/api/docs  (健康检查 /healthz, 就绪检查 /readyz)")
    # Flask's CLI makes app.run() a no-op, so serve through werkzeug directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)
