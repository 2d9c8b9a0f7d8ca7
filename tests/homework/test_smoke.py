"""The homework pages render for the people who use them (a quick look before the matrices)."""


def test_pages_render(hw):
    assert hw.clients["learner"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get("/homework/queue").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/submissions/{hw['sub']}").status_code == 200
    assert hw.clients["county_a"].get(f"/projects/{hw['project']}/homework/new").status_code == 200
    assert hw.clients["county_a"].get(f"/homework/{hw['assignment']}/edit").status_code == 200
    assert hw.clients["learner"].get(f"/projects/{hw['project']}/homework").status_code == 200


def test_a_tutor_sets_work_for_their_own_class_chosen_beforehand(hw):
    page = hw.clients["tutor"].get(f"/projects/{hw['project']}/homework/new?class_id={hw['class_a']}").get_data(as_text=True)
    assert f'value="class:{hw["class_a"]}" selected' in page or f'selected value="class:{hw["class_a"]}"' in page
    assert "course:" not in page  # a tutor sets no course-wide work
