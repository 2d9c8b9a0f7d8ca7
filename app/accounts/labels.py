"""Translated labels of the accounts feature's codes: roles, org unit kinds, school stages."""
from flask_babel import lazy_gettext as _l

LABELS = {
    "role": {
        "learner": _l("Learner"), "tutor": _l("Tutor"), "class_manager": _l("Class manager"),
        "expert": _l("Expert"), "org_admin": _l("Org admin"), "site_admin": _l("Site administrator"),
    },
    "org_kind": {
        "province": _l("Province"), "city": _l("City"), "county": _l("County"), "school": _l("School"),
        "learning_center": _l("Learning center"),
    },
    "stage": {
        "kindergarten": _l("Kindergarten"), "primary": _l("Primary school"), "junior": _l("Junior secondary"),
        "senior": _l("Senior secondary"), "vocational": _l("Vocational"),
    },
}
