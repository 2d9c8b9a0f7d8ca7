"""Forms of the projects and courses administration."""
from functools import lru_cache
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.accounts.admin_forms import as_choices, int_or_none, stage_choices
from app.common.forms import DecimalField, IntegerField
from app.courses.labels import LABELS


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    return name in _time_zones()


class ProjectForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10000)])
    org_unit_id = SelectField(_l("Org unit running the project"), coerce=int_or_none, validate_choice=False)
    starts_on = DateField(_l("Starts on"), validators=[DataRequired(message=_l("Enter a date (YYYY-MM-DD)."))])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired(message=_l("Enter a date (YYYY-MM-DD)."))])
    timezone = StringField(_l("Time zone (IANA name)"), default="Asia/Shanghai", validators=[DataRequired(), Length(max=64)])
    required_hours = DecimalField(_l("Required learning hours"), default=60, places=None,
                                  validators=[InputRequired(), NumberRange(min=0.5, max=2000)])
    minutes_per_hour = IntegerField(_l("Minutes per learning hour"), default=45,
                                    validators=[InputRequired(), NumberRange(min=10, max=120)])
    is_elective_confirmation_required = BooleanField(_l("Electives need the school's confirmation"))

    heartbeat_interval_s = IntegerField(_l("Heartbeat interval (seconds; empty = server default)"),
                                        validators=[Optional(), NumberRange(min=5, max=300)])
    gap_factor = DecimalField(_l("Gap factor"), default=8, places=None, validators=[InputRequired(), NumberRange(min=1, max=100)])
    min_rate = DecimalField(_l("Lowest credited playback rate"), default=0.5, places=None,
                            validators=[InputRequired(), NumberRange(min=0.0625, max=1)])
    max_rate = DecimalField(_l("Highest credited playback rate"), default=2, places=None,
                            validators=[InputRequired(), NumberRange(min=1, max=16)])
    completion_ratio = DecimalField(_l("Share watched for completion"), default=0.9, places=None,
                                    validators=[InputRequired(), NumberRange(min=0.1, max=1)])
    cap_factor = DecimalField(_l("Lesson cap factor"), default=1, places=None, validators=[InputRequired(), NumberRange(min=1, max=10)])
    daily_cap_hours = DecimalField(_l("Daily cap (hours)"), default=8, places=None,
                                   validators=[InputRequired(), NumberRange(min=0.5, max=24)])
    is_presence_check_enabled = BooleanField(_l("Presence checks"), default=True)
    presence_min_min = IntegerField(_l("Presence check after at least (minutes)"), default=20,
                                    validators=[InputRequired(), NumberRange(min=1, max=240)])
    presence_max_min = IntegerField(_l("… and at most (minutes)"), default=30,
                                    validators=[InputRequired(), NumberRange(min=1, max=240)])
    presence_timeout_s = IntegerField(_l("Time to answer a presence check (seconds)"), default=120,
                                      validators=[InputRequired(), NumberRange(min=10, max=3600)])
    is_seek_ahead_forbidden = BooleanField(_l("Forbid seeking ahead of the furthest point watched"))

    lag_grace_days = IntegerField(_l("Grace before a learner counts as lagging (days' worth of the pace)"), default=7,
                                  validators=[Optional(), NumberRange(min=0, max=365)])
    weight_video = IntegerField(_l("Weight: online learning (%)"), default=60, validators=[InputRequired(), NumberRange(min=0, max=100)])
    weight_forum = IntegerField(_l("Weight: discussion (%)"), default=10, validators=[InputRequired(), NumberRange(min=0, max=100)])
    weight_homework = IntegerField(_l("Weight: homework (%)"), default=20, validators=[InputRequired(), NumberRange(min=0, max=100)])
    weight_exam = IntegerField(_l("Weight: exam (%)"), default=10, validators=[InputRequired(), NumberRange(min=0, max=100)])
    pass_score = IntegerField(_l("Pass from"), default=60, validators=[InputRequired(), NumberRange(min=1, max=100)])
    good_score = IntegerField(_l("Good from"), default=80, validators=[InputRequired(), NumberRange(min=1, max=100)])
    excellent_score = IntegerField(_l("Excellent from"), default=90, validators=[InputRequired(), NumberRange(min=1, max=100)])

    def validate_timezone(self, field):
        if not is_time_zone((field.data or "").strip()):
            raise ValidationError(_l("Enter an IANA time zone name such as Asia/Shanghai."))

    def validate_ends_on(self, field):
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The project cannot end before it starts."))

    def validate_max_rate(self, field):
        if field.data is not None and self.min_rate.data is not None and field.data < self.min_rate.data:
            raise ValidationError(_l("The highest rate must not be below the lowest."))

    def validate_presence_max_min(self, field):
        if field.data is not None and self.presence_min_min.data is not None and field.data < self.presence_min_min.data:
            raise ValidationError(_l("The latest check must not come before the earliest."))

    def validate_weight_exam(self, field):
        weights = [self.weight_video.data, self.weight_forum.data, self.weight_homework.data, field.data]
        if all(w is not None for w in weights) and sum(weights) != 100:
            raise ValidationError(_l("The four weights must add up to 100 (now %(n)d).", n=sum(weights)))

    def validate_excellent_score(self, field):
        scores = [self.pass_score.data, self.good_score.data, field.data]
        if all(s is not None for s in scores) and not scores[0] < scores[1] < scores[2]:
            raise ValidationError(_l("The thresholds must rise: pass < good < excellent."))

    def project_fields(self) -> dict:
        """The Project columns this form sets."""
        return {
            "title": self.title.data.strip(),
            "description": (self.description.data or "").strip(),
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
            "timezone": self.timezone.data.strip(),
            "required_hours": float(self.required_hours.data),
            "minutes_per_hour": self.minutes_per_hour.data,
            "is_elective_confirmation_required": bool(self.is_elective_confirmation_required.data),
            "heartbeat_interval_s": self.heartbeat_interval_s.data or None,
            "gap_factor": float(self.gap_factor.data),
            "min_rate": float(self.min_rate.data),
            "max_rate": float(self.max_rate.data),
            "completion_ratio": float(self.completion_ratio.data),
            "cap_factor": float(self.cap_factor.data),
            "daily_cap_s": int(round(float(self.daily_cap_hours.data) * 3600)),
            "is_presence_check_enabled": bool(self.is_presence_check_enabled.data),
            "presence_min_s": self.presence_min_min.data * 60,
            "presence_max_s": self.presence_max_min.data * 60,
            "presence_timeout_s": self.presence_timeout_s.data,
            "is_seek_ahead_forbidden": bool(self.is_seek_ahead_forbidden.data),
            "lag_grace_days": 7 if self.lag_grace_days.data is None else self.lag_grace_days.data,
            "weight_video": self.weight_video.data,
            "weight_forum": self.weight_forum.data,
            "weight_homework": self.weight_homework.data,
            "weight_exam": self.weight_exam.data,
            "pass_score": self.pass_score.data,
            "good_score": self.good_score.data,
            "excellent_score": self.excellent_score.data,
        }

    def fill_from(self, project) -> None:
        for name in ("title", "description", "starts_on", "ends_on", "timezone", "required_hours", "minutes_per_hour",
                     "is_elective_confirmation_required", "heartbeat_interval_s", "gap_factor", "min_rate", "max_rate",
                     "completion_ratio", "cap_factor", "is_presence_check_enabled", "presence_timeout_s",
                     "is_seek_ahead_forbidden", "lag_grace_days", "weight_video", "weight_forum", "weight_homework", "weight_exam",
                     "pass_score", "good_score", "excellent_score"):
            getattr(self, name).data = getattr(project, name)
        self.org_unit_id.data = project.org_unit_id
        self.daily_cap_hours.data = round(project.daily_cap_s / 3600, 2)
        self.presence_min_min.data = project.presence_min_s // 60
        self.presence_max_min.data = project.presence_max_s // 60


class CourseLinkForm(FlaskForm):
    course_id = SelectField(_l("Course"), coerce=int_or_none, validate_choice=False)
    is_required = SelectField(_l("Required or elective"), choices=as_choices([("1", _l("Required")), ("0", _l("Elective"))]), default="1")


class CourseLinkUpdateForm(FlaskForm):
    action = SelectField(choices=as_choices((a, a) for a in ("up", "down", "required", "elective", "remove")))


class MoveForm(FlaskForm):
    direction = SelectField(choices=as_choices([("up", "up"), ("down", "down")]))


class EnrollForm(FlaskForm):
    """Enrol the checked users (user_ids, read from the request) or all teachers of a school."""
    school_id = SelectField(_l("All teachers of"), coerce=int_or_none, validate_choice=False)


class CardsForm(FlaskForm):
    count = IntegerField(_l("Number of cards"), default=50, validators=[InputRequired(), NumberRange(min=1, max=5000)])
    file_format = SelectField(_l("Download as"), choices=as_choices([("xlsx", "XLSX"), ("csv", "CSV")]), default="xlsx")


class CourseForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10000)])
    org_unit_id = SelectField(_l("Org unit that maintains the course"), coerce=int_or_none, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=40)])
    stage = SelectField(_l("Stage"), choices=stage_choices(), validators=[Optional()])


class ModuleForm(FlaskForm):
    title = StringField(_l("Module title"), validators=[DataRequired(), Length(max=200)])


def lesson_kind_choices() -> list:
    return list(LABELS["lesson_kind"].items())


class LessonForm(FlaskForm):
    title = StringField(_l("Lesson title"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=as_choices(lesson_kind_choices()), default="video")
    duration_min = DecimalField(_l("Credited duration of a document (minutes)"), places=None,
                                validators=[Optional(), NumberRange(min=0, max=600)])

    def duration_s(self) -> int | None:
        if self.kind.data != "document" or self.duration_min.data is None:
            return None
        return int(round(float(self.duration_min.data) * 60))


class ElectiveDecisionForm(FlaskForm):
    """Confirm or refuse the ticked elective choices (choice_ids, read from the request), a refusal with a short reason."""
    action = SelectField(choices=as_choices([("confirm", _l("Confirm")), ("refuse", _l("Refuse"))]))
    reason = StringField(_l("Reason for a refusal (optional)"))  # its length is checked by the service, with a message
