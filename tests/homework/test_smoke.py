"""The homework pages render for the people who use them (a quick look before the matrices)."""


def test_pages_render(hw):
    assert hw.clients["learner"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get("/homework/queue").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/submissions/{hw['sub']}").status_code == 200
    assert hw.clients["county_a"].get(f"/projects/{hw['project']}/homework/new").status_code == 200
    assert hw.clients["county_a"].get(f"/homework/{hw['assignment']}/edit").status_code == 200
    assert hw.clients["learner"].get(f"/projects/{hw['project']}/homework").status_code == 200
