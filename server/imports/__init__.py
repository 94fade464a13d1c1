"""Batch imports of institutions' own files (机构系统批量导入).

`models` keeps each file's batch and report; `services` takes a file, lists and shows the
reports; `parsing` reads JSON lines and CSV into rows and fields; `pipeline` runs every kind
of file through the same two passes (check, then store) in chunks. Each domain holds its own
kind of row and applies its own rules: service records in `servicerecords.service_record_import`,
dispensings in `prescriptions.dispensing_import`.
"""
