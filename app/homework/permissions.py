"""Who may do what with homework: the one place where the feature decides.

- Assignments: the project's admins create course-wide ones; a class's admins and its tutor create
  ones for that class. Learners see the assignments of their own class (course-wide ones of the project
  included); the class's staff and the admins above the class see them too.
- Submissions: the author; the tutor and class manager of the version's class and the org admins above
  it read them; only the class's tutor grades, returns and recommends; the class's learners read a
  version while it is recommended. Everyone else gets 404.
- Resumable uploads: a learner the assignment is for starts one (can_submit); only that learner sees,
  continues or abandons it (can_use_upload); anyone else gets 404.
"""
from app.classrooms.models import Class_
from app.common.permissions import class_ids_with_role, in_scope, real_user
from app.courses.permissions import can_edit_project, can_view_project
from app.homework.models import Assignment, HomeworkUpload, Submission


def _signed_in(user) -> bool:
    user = real_user(user)
    return user is not None and bool(getattr(user, "is_authenticated", False))


def is_tutor_of(user, class_id: int) -> bool:
    return class_id in class_ids_with_role(user, "tutor")


def is_staff_of(user, class_id: int) -> bool:
    return class_id in class_ids_with_role(user, "tutor", "class_manager")


def is_learner_of(user, class_id: int) -> bool:
    return class_id in class_ids_with_role(user, "learner")


def _class_admin(user, cls: Class_ | None) -> bool:
    return cls is not None and in_scope(user, cls.org_unit)


# ---------------------------------------------------------------- assignments
def can_create_course_assignment(user, project) -> bool:
    return _signed_in(user) and can_edit_project(user, project)


def can_create_class_assignment(user, cls: Class_) -> bool:
    return _signed_in(user) and (_class_admin(user, cls) or is_tutor_of(user, cls.id))


def can_edit_assignment(user, assignment: Assignment) -> bool:
    if assignment.class_id is not None:
        return can_create_class_assignment(user, assignment.class_)
    return can_create_course_assignment(user, assignment.project)


def assignment_class_ids(user, assignment: Assignment, project_class_ids) -> set[int]:
    """The classes through which the user reaches the assignment (learner or staff), given the project's class ids."""
    target = {assignment.class_id} if assignment.class_id is not None else set(project_class_ids)
    return target & class_ids_with_role(user, "learner", "tutor", "class_manager")


def is_for_learner_class(assignment: Assignment, class_id: int | None) -> bool:
    """The assignment applies to that class (a class of its project)."""
    return class_id is not None and (assignment.class_id is None or assignment.class_id == class_id)


def can_view_assignment(user, assignment: Assignment, learner_class: Class_ | None = None,
                        staff_classes: list[Class_] = ()) -> bool:
    """Read an assignment: whoever may edit it, admins who see its project, its class's learner and staff.

    learner_class is the user's class in the project (if any); staff_classes those they staff in it.
    """
    if not _signed_in(user):
        return False
    if can_edit_assignment(user, assignment):
        return True
    if assignment.is_deleted:
        return False
    if learner_class is not None and is_for_learner_class(assignment, learner_class.id):
        return True
    if any(is_for_learner_class(assignment, c.id) for c in staff_classes):
        return True
    if assignment.class_id is not None:
        return _class_admin(user, assignment.class_)
    return can_view_project(user, assignment.project)


def can_submit(user, assignment: Assignment, learner_class: Class_ | None) -> bool:
    return (_signed_in(user) and not assignment.is_deleted and learner_class is not None
            and is_learner_of(user, learner_class.id) and is_for_learner_class(assignment, learner_class.id))


def can_use_upload(user, upload: HomeworkUpload) -> bool:
    """See, continue or abandon a resumable upload: the learner who started it, no one else (not even staff)."""
    return _signed_in(user) and upload.user_id == real_user(user).id


# ---------------------------------------------------------------- submissions
def can_view_class_submissions(user, cls: Class_) -> bool:
    """The list of a class's submissions: its tutor and class manager, the org admins above it."""
    return _signed_in(user) and (is_staff_of(user, cls.id) or _class_admin(user, cls))


def can_download_class_zip(user, cls: Class_) -> bool:
    return _signed_in(user) and is_staff_of(user, cls.id)


def can_grade(user, submission: Submission) -> bool:
    return _signed_in(user) and is_tutor_of(user, submission.class_id)


def can_view_submission(user, submission: Submission) -> bool:
    if not _signed_in(user):
        return False
    me = real_user(user)
    if submission.user_id == me.id:
        return True
    if is_staff_of(user, submission.class_id) or _class_admin(user, submission.class_):
        return True
    return submission.is_excellent and is_learner_of(user, submission.class_id)


def can_view_grading_queue(user, _obj=None) -> bool:
    return bool(class_ids_with_role(user, "tutor", "class_manager"))


# ---------------------------------------------------------------- class briefs
def can_write_brief(user, cls: Class_) -> bool:
    """Compose, preview, save and publish a class's brief: its tutor."""
    return _signed_in(user) and is_tutor_of(user, cls.id)


def can_view_briefs(user, cls: Class_) -> bool:
    """Read a class's published briefs: its learners and staff, the org admins above the class."""
    return _signed_in(user) and (is_learner_of(user, cls.id) or is_staff_of(user, cls.id) or _class_admin(user, cls))


def can_view_brief(user, brief) -> bool:
    if brief.published_at is None:
        return can_write_brief(user, brief.class_)
    return can_view_briefs(user, brief.class_)
