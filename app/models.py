"""Import every feature's models so that Alembic and create_all see the whole schema."""
from app.accounts.models import ApiToken, LearningCard, LoginSession, OrgUnit, RoleAssignment, SignInFailure, User  # noqa: F401
from app.classrooms.models import Class_, ClassReminder  # noqa: F401
from app.courses.models import Course, ElectiveChoice, ElectiveDecision, Enrollment, Lesson, Module, Project, ProjectCourse  # noqa: F401
import app.tracking.models  # noqa: F401,E402
import app.media.models  # noqa: F401,E402
import app.reports.models  # noqa: F401,E402
import app.homework.models  # noqa: F401,E402
import app.forums.models  # noqa: F401,E402
import app.notifications.models  # noqa: F401,E402
