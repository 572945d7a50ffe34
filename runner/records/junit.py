"""JUnit XML for a finished run: one test case per objective, RTO/RPO as properties.

Every value taken from the record goes through `runner.text.xml`: secrets masked, and no
character XML cannot hold (a JUnit file a CI server cannot parse is a lost verdict)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from runner.text import xml


def junit_xml(run: Mapping[str, Any]) -> str:
    """Render a run.json dict as a JUnit testsuite."""
    name = xml(run.get("scenario", {}).get("name", "drill"))
    status = str(run.get("status"))
    suite = ET.Element("testsuite", name=f"drill:{name}")
    props = ET.SubElement(suite, "properties")
    for key in ("runId", "status"):
        ET.SubElement(props, "property", name=key, value=xml(run.get(key)))
    measurements = run.get("measurements") or {}
    cases = 0
    failures = errors = 0
    for kind in ("rto", "rpo"):
        m = measurements.get(kind)
        if not m:
            continue
        ET.SubElement(props, "property", name=f"{kind}_seconds", value=xml(m.get("seconds")))
        ET.SubElement(
            props,
            "property",
            name=f"{kind}_objective_seconds",
            value=xml(m.get("objectiveSeconds")),
        )
        case = ET.SubElement(suite, "testcase", classname=f"drill.{name}", name=f"{kind} objective")
        cases += 1
        if m.get("status") == "missed":
            failures += 1
            ET.SubElement(case, "failure", message=xml(m.get("explanation", "missed")))
        elif m.get("status") == "inconclusive":
            errors += 1
            ET.SubElement(case, "error", message=xml(m.get("explanation", "inconclusive")))
    case = ET.SubElement(suite, "testcase", classname=f"drill.{name}", name="drill")
    cases += 1
    if status in ("aborted", "error"):
        errors += 1
        ET.SubElement(case, "error", message=xml(run.get("reason") or status))
    elif status == "failed":
        failures += 1
        ET.SubElement(case, "failure", message=xml(run.get("reason") or status))
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
