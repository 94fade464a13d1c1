"""FHIR R4B export (FHIR 导出): the platform's records as HL7 FHIR for health-information platforms and research.

`systems.py` names every code system and identifier system once; `resources.py` turns rows into
`fhir.resources.R4B` models (each validated as it is built); `queries.py` selects the rows of an
export, chunked, through the scope rules; `services.py` holds the use cases: the Bulk Data
`$export` (kick-off, manifest, one NDJSON file per resource type, generated while it streams)
and a resident's `$everything` Bundle; `models.py` the export jobs.
"""
