"""Fail when a browser test was skipped (or none ran) in any of the given JUnit reports."""
import sys
import xml.etree.ElementTree as ET

failed = False
for path in sys.argv[1:]:
    cases = [c for c in ET.parse(path).iter("testcase") if "tests.browser" in (c.get("classname") or "")]
    skipped = [c for c in cases if c.find("skipped") is not None]
    if not cases:
        print(f"{path}: no browser test ran")
        failed = True
    for case in skipped:
        print(f"{path}: browser test skipped: {case.get('classname')}::{case.get('name')}")
        failed = True
    print(f"{path}: {len(cases)} browser tests, {len(skipped)} skipped")
sys.exit(1 if failed else 0)
