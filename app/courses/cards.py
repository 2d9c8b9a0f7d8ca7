"""Learning cards (学习卡): generate a batch, register or enrol with a card, once."""
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts import auth, limits
from app.accounts.models import LearningCard, User
from app.accounts.service import hash_bulk_secret
from app.common import clock
from app.common.exceptions import Conflict, Invalid
from app.courses.models import Enrollment, Project
from app.extensions import db

MAX_BATCH = 5000
_PIN_ALPHABET = "23456789"  # digits that cannot be misread on a printed card


@dataclass(frozen=True)
class IssuedCard:
    number: str
    pin: str


def do_generate_cards(project: Project, count: int, created_by: User) -> tuple[str, list[IssuedCard]]:
    """Create `count` cards for the project; return the batch id and the numbers with their PINs.

    The PINs exist in clear only in the returned list (exported once); the database keeps hashes.
    Callers that hold a write transaction should call prepare_cards before it and do_store_cards inside.
    """
    return do_store_cards(project, prepare_cards(project, count), created_by)


def card_guess(address: str | None):
    """Count a card guess from this address (limits.attempt): wrap the write transaction of a redemption in it.

    Raises limits.TooManyFailures while the address has guessed wrong too often.
    """
    return limits.attempt(("card", address))


def _check_card(number: str, pin: str) -> LearningCard:
    """Return the usable card for number + PIN; the same message for every wrong guess."""
    card = db.session.execute(
        select(LearningCard).where(LearningCard.number == (number or "").strip()).with_for_update()
    ).scalar_one_or_none()
    if card is None:
        auth.verify_password(auth.DUMMY_HASH, pin or "")
        raise limits.WrongGuess(_("The card number or PIN is wrong."), code="card_invalid")
    if not auth.verify_password(card.pin_hash, (pin or "").strip()):
        raise limits.WrongGuess(_("The card number or PIN is wrong."), code="card_invalid")
    if card.is_revoked:
        raise Conflict(_("This card has been withdrawn. Ask your school for another."), code="card_revoked")
    if card.used_at is not None:
        raise Conflict(_("This card has already been used. Each card works once."), code="card_used")
    project = db.session.get(Project, card.project_id)
    if project is None or project.ends_on < clock.now().date():
        raise Conflict(_("The training project of this card has ended."), code="card_expired")
    return card


def _use_card(card: LearningCard, user: User) -> Project:
    project = db.session.get(Project, card.project_id)
    exists = db.session.execute(
        select(Enrollment.id).where(Enrollment.project_id == project.id, Enrollment.user_id == user.id)
    ).first()
    if exists:
        raise Conflict(_("You are already enrolled in this project; keep the card for someone else."), code="already_enrolled")
    card.used_at = clock.now()
    card.used_by_id = user.id
    db.session.add(Enrollment(project_id=project.id, user_id=user.id, source="card"))
    return project


def check_register_with_card(*, number: str, pin: str, username: str, real_name: str, teacher_no: str | None,
                             phone: str | None, password: str) -> User:
    """Create a teacher's account and enrol it with a card. Must run inside write_transaction, inside card_guess."""
    card = _check_card(number, pin)
    if (problem := auth.password_problem(password)) is not None:
        raise Invalid(problem, code="password")
    username = username.strip()
    if db.session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise Conflict(_("This username is taken; choose another."), code="username_taken")
    if teacher_no and db.session.execute(select(User.id).where(User.teacher_no == teacher_no.strip())).first():
        raise Conflict(_("This teacher number is already registered. Sign in with your account and redeem the card there."),
                       code="teacher_no_taken")
    project = db.session.get(Project, card.project_id)
    user = User(username=username, real_name=real_name.strip(), teacher_no=(teacher_no or None) and teacher_no.strip(),
                phone=phone, password_hash=auth.hash_password(password), school_id=project.org_unit_id)
    db.session.add(user)
    db.session.flush()
    _use_card(card, user)
    return user


def check_redeem_card(user: User, number: str, pin: str) -> Project:
    """Enrol a signed-in user with a card. Must run inside write_transaction, inside card_guess."""
    card = _check_card(number, pin)
    return _use_card(card, user)


# ---------------------------------------------------------------- administration of batches
@dataclass(frozen=True)
class PreparedCard:
    number: str
    pin: str
    pin_hash: str


def prepare_cards(project: Project, count: int) -> list[PreparedCard]:
    """Draw numbers and PINs and hash the PINs: the slow part, to run BEFORE the write transaction."""
    if not 1 <= count <= MAX_BATCH:
        raise Invalid(_("Generate between 1 and %(n)d cards at a time.", n=MAX_BATCH), code="count")
    prefix = f"{project.id:04d}"
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(prefix + "".join(secrets.choice("0123456789") for _d in range(10)))
    prepared = []
    for number in sorted(numbers):
        pin = "".join(secrets.choice(_PIN_ALPHABET) for _d in range(8))
        prepared.append(PreparedCard(number, pin, hash_bulk_secret(pin)))
    return prepared


def do_store_cards(project: Project, prepared: list[PreparedCard], created_by: User) -> tuple[str, list[IssuedCard]]:
    """Store prepared cards as one batch; return the batch id and the numbers with their PINs (shown once)."""
    taken = set(db.session.execute(
        select(LearningCard.number).where(LearningCard.number.in_([c.number for c in prepared]))
    ).scalars())
    if taken:
        raise Conflict(_("Some card numbers were drawn twice by chance. Please generate the batch again."),
                       code="card_collision")
    batch = clock.now().strftime("%Y%m%d") + "-" + secrets.token_hex(3).upper()
    db.session.add_all([
        LearningCard(project_id=project.id, number=c.number, pin_hash=c.pin_hash, batch=batch,
                     created_by_id=created_by.id)
        for c in prepared
    ])
    db.session.flush()
    return batch, [IssuedCard(c.number, c.pin) for c in prepared]


@dataclass(frozen=True)
class BatchSummary:
    batch: str
    created_at: object
    total: int
    used: int
    revoked: int

    @property
    def unused(self) -> int:
        return self.total - self.used - self.revoked


def get_card_batches(project: Project) -> list[BatchSummary]:
    """Return the project's card batches, newest first, with used and revoked counts."""
    from sqlalchemy import case

    rows = db.session.execute(
        select(
            LearningCard.batch,
            func.min(LearningCard.created_at),
            func.count(LearningCard.id),
            func.sum(case((LearningCard.used_at.is_not(None), 1), else_=0)),
            func.sum(case(((LearningCard.used_at.is_(None)) & LearningCard.is_revoked, 1), else_=0)),
        )
        .where(LearningCard.project_id == project.id)
        .group_by(LearningCard.batch)
        .order_by(func.min(LearningCard.created_at).desc(), LearningCard.batch.desc())
    ).all()
    return [BatchSummary(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4] or 0)) for r in rows]


def do_revoke_batch(project: Project, batch: str) -> int:
    """Withdraw the unused cards of a batch; return how many were withdrawn."""
    from sqlalchemy import update

    exists = db.session.execute(
        select(LearningCard.id).where(LearningCard.project_id == project.id, LearningCard.batch == batch).limit(1)
    ).first()
    if not exists:
        from app.common.exceptions import NotFound

        raise NotFound(_("No such card batch in this project."))
    result = db.session.execute(
        update(LearningCard)
        .where(LearningCard.project_id == project.id, LearningCard.batch == batch,
               LearningCard.used_at.is_(None), LearningCard.is_revoked.is_(False))
        .values(is_revoked=True)
    )
    return result.rowcount or 0
