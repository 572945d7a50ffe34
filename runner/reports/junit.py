"""JUnit XML for a finished run: one test case per objective, RTO/RPO as properties.

Every value taken from the record goes through `runner.text.xml`: secrets masked, and no
character XML cannot hold (a JUnit file a CI server cannot parse is a lost verdict)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from runner.journal.run import Run
from runner.journal.status import Status
from runner.measure.results import Status as Judged
from runner.text import xml


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def junit_xml(run: Run) -> str:
    """Render a run as a JUnit testsuite."""
    name = xml(run.scenario.name or "drill")
    suite = ET.Element("testsuite", name=f"drill:{name}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="runId", value=xml(run.run_id))
    ET.SubElement(props, "property", name="status", value=xml(run.status.value))
    cases = failures = errors = 0
    failover = (("rto", run.measurements.rto), ("rpo", run.measurements.rpo))
    for kind, m in ((k, m) for k, m in failover if m is not None):
        ET.SubElement(props, "property", name=f"{kind}_seconds", value=xml(_r(m.seconds)))
        ET.SubElement(
            props, "property", name=f"{kind}_objective_seconds", value=xml(m.objective_seconds)
        )
        case = ET.SubElement(suite, "testcase", classname=f"drill.{name}", name=f"{kind} objective")
        cases += 1
        if m.status is Judged.MISSED:
            failures += 1
            ET.SubElement(case, "failure", message=xml(m.explanation or "missed"))
        elif m.status is Judged.INCONCLUSIVE:
            errors += 1
            ET.SubElement(case, "error", message=xml(m.explanation or "inconclusive"))
    case = ET.SubElement(suite, "testcase", classname=f"drill.{name}", name="drill")
    cases += 1
    if run.status in (Status.ABORTED, Status.ERROR):
        errors += 1
        ET.SubElement(case, "error", message=xml(run.reason or run.status.value))
    elif run.status is Status.FAILED:
        failures += 1
        ET.SubElement(case, "failure", message=xml(run.reason or run.status.value))
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
