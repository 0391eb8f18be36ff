"""The web application of the review cycle (Flask): sign-in, owners' pages, the office's
rounds, tracker, people and audit log, analysts' narrative, and the leaders' library.

Safety comes from the libraries, configured once here: Flask-Login keeps the session (in
Flask's signed cookie, HttpOnly and SameSite=Lax), Flask-WTF checks a CSRF token on every
POST, Flask-Limiter limits sign-in attempts, argon2-cffi hashes passwords and itsdangerous
signs the one-time links (whose single use the store records). Every page is a Jinja template
with autoescaping, so what people write is shown as text; the pages carry no script at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup, escape

from reviewkit import cadences, periods
from reviewkit.errors import ReviewkitError
from reviewkit.formatting import STATUS_WORDS, format_date, label_words, text_for_page
from reviewkit.narrative.edits import NarrativeEdit
from reviewkit.narrative.placeholders import NarrativeError
from reviewkit.narrative.service import NarrativeService
from reviewkit.periods import today as clock
from reviewkit.serve import mail, rounds
from reviewkit.serve.people import (
    ROLE_DUTIES,
    check_person,
    declared_units,
    hash_password,
    needs_rehash,
    verify_password,
)
from reviewkit.serve.site import Site
from reviewkit.store.cycle import (
    KPI_FIELDS,
    OVERRIDE_STATUSES,
    ROLES,
    FieldConflict,
    PersonExists,
    Round,
    RoundClosed,
    User,
)
from reviewkit.store.records import APPROVAL_FIELD

log = logging.getLogger(__name__)

#: The largest request body accepted (a page of owners' updates is a few kilobytes).
MAX_REQUEST = 256 * 1024
#: The same answer for every sign-in that fails, whatever failed.
#: Where a session keeps when it was made by a sign-in link (seconds since the epoch).
_SIGNED_IN_BY_LINK = "signed_in_by_link"
SIGN_IN_FAILED = "That e-mail address and password do not match an account."
LINK_SENT = ("If that address has an account, a sign-in link is on its way to it. The link "
             "works once, for {minutes} minutes.")

F = TypeVar("F", bound=Callable[..., Any])


class SignedIn:
    """The signed-in person, as Flask-Login wants them: their id joined with their session
    token, so a sign-out or a new password ends every session made before."""

    def __init__(self, user: User) -> None:
        self.user = user

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_token}"


def site() -> Site:
    return cast(Site, current_app.extensions["reviewkit"])


def me() -> User:
    return cast(SignedIn, current_user).user


def roles(*allowed: str) -> Callable[[F], F]:
    """Only people with one of these roles; others are refused (403), the signed-out are sent
    to sign in."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if me().role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorate


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sign-in-link")


def link_for(user: User, purpose: str) -> str:
    """A one-time link signing ``user`` in (an invitation's lasts days, a sign-in's minutes)."""
    nonce = site().cycle.record_link(user.id, purpose)
    token = _serializer().dumps({"u": user.id, "n": nonce, "p": purpose})
    return f"{site().settings.url}{url_for('link', token=token)}"


def _the_round(round_id: int) -> Round:
    found = site().cycle.round(round_id)
    if found is None:
        abort(404)
    return found


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never a redirect elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user: User) -> str:
    return {"office": url_for("rounds_page"), "analyst": url_for("rounds_page"),
            "owner": url_for("my_rounds"), "reader": url_for("library")}[user.role]


def create_app(params_files: Sequence[str | Path], *, packs: Path | None = None,
               config: Mapping[str, Any] | None = None) -> Flask:
    """The application for these pack definitions (one store); ``config`` overrides Flask's
    settings (tests turn CSRF off to walk the routes, or raise the sign-in limit)."""
    served = Site.open(params_files, packs=packs)
    app = Flask(__name__)
    secure = served.settings.url.startswith("https://")
    app.config.update(
        SECRET_KEY=served.cycle.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="reviewkit_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_REQUEST,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST,
        # An owner may keep their page open through a working day before saving.
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        SIGN_IN_LIMIT=served.settings.sign_in_limit,
    )
    app.config.update(config or {})
    app.extensions["reviewkit"] = served
    app.jinja_env.globals.update(status_words=STATUS_WORDS, unit_word=rounds.unit_word,
                                 role_duties=ROLE_DUTIES)
    # Periods and days in words, as the packs print them ('20 Nov 2026', 'Q4 2026').
    app.jinja_env.filters.update(period_words=label_words, day=_day, stamp=_stamp)
    # People's names, titles and reasons cannot turn the text after them around.
    app.jinja_env.finalize = text_for_page
    app.jinja_env.filters["as_stored"] = as_stored
    CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app)
    logins = LoginManager(app)
    logins.login_view = "sign_in"
    logins.login_message = "Sign in to see that page."

    @logins.user_loader
    def _load(identity: str) -> SignedIn | None:
        user_id, _, token = identity.partition(":")
        user = site().cycle.user(int(user_id)) if user_id.isdigit() else None
        if user is None or not user.active or user.session_token != token:
            return None
        return SignedIn(user)

    @app.after_request
    def _headers(response: Response) -> Response:
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'none'; object-src 'none'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return render_template("error.html", title="The form expired",
                               message="The page was open too long or came from elsewhere. "
                                       "Go back, reload the page and save again."), 400

    @app.errorhandler(403)
    def _forbidden(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not for your role",
                               message="Your account cannot open that page."), 403

    @app.errorhandler(404)
    def _missing(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not found",
                               message="There is nothing at that address."), 404

    @app.errorhandler(413)
    def _too_big(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Too much at once",
                               message=f"A request may carry at most {MAX_REQUEST // 1024} KB; "
                                       "shorten the text and save again."), 413

    @app.errorhandler(429)
    def _too_many(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Too many attempts",
                               message="Too many sign-in attempts from here. Wait a few "
                                       "minutes and try again."), 429

    _sign_in_routes(app, limiter)
    _owner_routes(app)
    _office_routes(app)
    _narrative_routes(app)
    _library_routes(app)
    return app


# -- signing in --------------------------------------------------------------------------------

def _sign_in_routes(app: Flask, limiter: Limiter) -> None:
    limit = limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT"], methods=["POST"])

    @app.get("/")
    def index() -> Any:
        if current_user.is_authenticated:
            return redirect(home_for(me()))
        return redirect(url_for("sign_in"))

    @app.route("/sign-in", methods=["GET", "POST"])
    @limit
    def sign_in() -> Any:
        error = ""
        if request.method == "POST":
            email = request.form.get("email", "").strip().lower()[:254]
            user = site().cycle.user_by_email(email)
            if verify_password(user, request.form.get("password", "")) and user is not None:
                if needs_rehash(user):
                    site().cycle.rehash_password(user.id,
                                                 hash_password(request.form["password"]))
                login_user(SignedIn(user))
                site().cycle.audit(user.name, "signed in", user.email, {"by": "password"})
                return redirect(_safe_next(request.args.get("next")) or home_for(user))
            error = SIGN_IN_FAILED
        return render_template("sign_in.html", error=error,
                               minutes=site().settings.link_minutes), 401 if error else 200

    @app.post("/sign-in/link")
    @limit
    def request_link() -> Any:
        email = request.form.get("email", "").strip().lower()[:254]
        user = site().cycle.user_by_email(email)
        if user is not None and user.active:
            text = (f"Hello {user.name},\n\nTo sign in to the review cycle, open this link "
                    f"(it works once, for {site().settings.link_minutes} minutes):\n\n"
                    f"{link_for(user, 'sign-in')}\n\nIf you did not ask for it, ignore this "
                    "message.\n")
            try:
                mail.send(site().settings.smtp, [mail.Mail(user.name, user.email,
                                                           "Your sign-in link", text)])
            except mail.MailFailure as exc:
                log.error("%s", exc)
        # The same answer whether or not the address has an account.
        flash(LINK_SENT.format(minutes=site().settings.link_minutes))
        return redirect(url_for("sign_in"))

    @app.route("/sign-in/link/<token>", methods=["GET", "POST"])
    @limit
    def link(token: str) -> Any:
        purpose_days = site().settings.invitation_days * 86400
        try:
            data = _serializer().loads(token, max_age=purpose_days)
        except SignatureExpired:
            return _bad_link("This link has expired. Ask for a new one below.")
        except BadSignature:
            return _bad_link("This link is not valid. Ask for a new one below.")
        if not isinstance(data, dict) or not {"u", "n", "p"} <= set(data):
            return _bad_link("This link is not valid. Ask for a new one below.")
        if data["p"] == "sign-in":
            try:
                _serializer().loads(token, max_age=site().settings.link_minutes * 60)
            except SignatureExpired:
                return _bad_link("This link has expired. Ask for a new one below.")
        user = site().cycle.user(int(data["u"]))
        if user is None or not user.active:
            return _bad_link("This link is not valid. Ask for a new one below.")
        if request.method == "GET":
            # Mail scanners open links: only the button below uses one.
            return render_template("link.html", token=token, user=user,
                                   invitation=data["p"] == "invitation")
        if not site().cycle.use_link(str(data["n"]), user.id):
            return _bad_link("This link was used already. Ask for a new one below.")
        login_user(SignedIn(user))
        # A link from the person's mailbox proves what their password would: for as long as
        # such a link is valid, they may choose a new password without the forgotten one.
        session[_SIGNED_IN_BY_LINK] = time.time()
        if not user.password_hash:
            return redirect(url_for("password"))
        return redirect(home_for(user))

    def _may_skip_current(user: User) -> bool:
        """Whether ``user`` may choose a password without giving the current one: they have
        none yet, or signed in with a link from their mailbox within the link's lifetime."""
        if not user.password_hash:
            return True
        since = session.get(_SIGNED_IN_BY_LINK)
        return isinstance(since, float) and (
            0 <= time.time() - since <= site().settings.link_minutes * 60)

    def _bad_link(message: str) -> tuple[str, int]:
        return render_template("sign_in.html", error=message,
                               minutes=site().settings.link_minutes), 400

    @app.post("/sign-out")
    @login_required
    def sign_out() -> Any:
        user = me()
        site().cycle.end_sessions(user.id)
        site().cycle.audit(user.name, "signed out", user.email)
        logout_user()
        flash("You are signed out.")
        return redirect(url_for("sign_in"))

    @app.route("/account/password", methods=["GET", "POST"])
    @login_required
    @limit
    def password() -> Any:
        error = ""
        asks_current = not _may_skip_current(me())
        if request.method == "POST":
            first, second = request.form.get("password", ""), request.form.get("again", "")
            # A session left open (a shared screen, a stolen cookie) must not be enough to
            # take the account over.
            if asks_current and not verify_password(me(), request.form.get("current", "")):
                error = "Your current password is not right. Forgotten it? Sign out and ask " \
                        "for a sign-in link."
            elif first != second:
                error = "The two passwords differ."
            else:
                try:
                    hashed = hash_password(first)
                except ReviewkitError as exc:
                    error = str(exc)
                else:
                    user = me()
                    site().cycle.set_password(user.id, hashed, by=user.name)
                    refreshed = site().cycle.user(user.id)
                    assert refreshed is not None
                    login_user(SignedIn(refreshed))
                    session.pop(_SIGNED_IN_BY_LINK, None)
                    flash("Your password is set.")
                    return redirect(home_for(refreshed))
        return render_template("password.html", error=error, asks_current=asks_current), \
            400 if error else 200


# -- owners ------------------------------------------------------------------------------------

def _open_rounds_of(user: User) -> list[Round]:
    return [r for r in site().cycle.rounds()
            if r.is_open and (rounds.kpi_tasks(r, user) or rounds.owners_of(r, user))]


def _owner_routes(app: Flask) -> None:
    @app.get("/my")
    @roles("owner")
    def my_rounds() -> Any:
        found = _open_rounds_of(me())
        if len(found) == 1:
            return redirect(url_for("my_page", round_id=found[0].id))
        return render_template("my_rounds.html", rounds=found)

    @app.route("/my/<int:round_id>", methods=["GET", "POST"])
    @roles("owner")
    def my_page(round_id: int) -> Any:
        round_ = _the_round(round_id)
        user = me()
        if not rounds.owners_of(round_, user):
            abort(403)
        problems: dict[str, str] = {}
        conflicts: dict[str, Any] = {}
        typed: dict[str, str] = {}
        if request.method == "POST" and not round_.is_open:
            # A page opened before the round closed still posts: nothing of it may be saved.
            flash(_closed_for_owners(round_))
            typed = {key: value for key, value in request.form.items() if key != "csrf_token"}
            return _render_my_page(round_, user, problems, conflicts, typed, 409)
        if request.method == "POST":
            problems, conflicts, typed = _save_page(round_, user)
            if not problems and not conflicts:
                flash("Saved.")
                return redirect(url_for("my_page", round_id=round_id))
        return _render_my_page(round_, user, problems, conflicts, typed,
                               400 if problems or conflicts else 200)

    @app.post("/my/<int:round_id>/done")
    @roles("owner")
    def my_done(round_id: int) -> Any:
        round_ = _the_round(round_id)
        user = me()
        if not rounds.owners_of(round_, user):
            abort(403)
        owners = rounds.page_owners(site().store, round_, user)
        if not round_.is_open:
            flash(_closed_for_owners(round_))
            return redirect(url_for("my_page", round_id=round_id))
        done = request.form.get("done") == "1"
        try:
            site().cycle.set_done(round_id, owners, done, by=user.name)
        except RoundClosed:  # closed after this request read the round
            flash(_closed_for_owners(round_))
            return redirect(url_for("my_page", round_id=round_id))
        flash("Marked done: thank you." if done else "Marked not done.")
        return redirect(url_for("my_page", round_id=round_id))


def _closed_for_owners(round_: Round) -> str:
    return (f"The round {round_.name} is closed: nothing was changed. Ask the office to reopen "
            "it if your updates must change.")


def _save_page(round_: Round, user: User) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """Save every KPI and action the page changed; what could not be saved and why, the
    conflicts (the other person's text beside this person's), and what was typed, less what
    was saved (shown again as stored, at its new revision)."""
    cycle = site().cycle
    problems: dict[str, str] = {}
    conflicts: dict[str, Any] = {}
    typed = {key: value for key, value in request.form.items() if key != "csrf_token"}
    for task in rounds.kpi_tasks(round_, user):
        fields = {name: request.form[f"{task.key}:{name}"] for name in KPI_FIELDS
                  if f"{task.key}:{name}" in request.form}
        revisions = {name: _int(request.form.get(f"{task.key}:{name}:rev"))
                     for name in fields}
        shown = cycle.texts_at(round_.id, task.kpi_id, task.unit, revisions)
        changed = {name: text for name, text in fields.items()
                   if text.replace("\r\n", "\n").strip() != shown.get(name, "")}
        if changed.get("status_reason") is not None or changed.get("status") is not None:
            # An override and its reason are one statement: check them together.
            for name in ("status", "status_reason"):
                if name in fields:
                    changed.setdefault(name, fields[name])
        if not changed:
            continue
        try:
            rounds.save_kpi_update(cycle, round_, user, task, changed, revisions)
        except FieldConflict as exc:
            conflicts[task.key] = {c.field: c for c in exc.conflicts}
        except rounds.UpdateRefused as exc:
            problems[task.key] = str(exc)
        else:
            # Shown again as stored: the revisions the page was read at are this save's past,
            # and the next save from the page would conflict with it.
            _forget(typed, task.key)
    for action in rounds.action_tasks(site().store, user):
        prefix = f"action.{action.id}"
        if f"{prefix}:note" not in request.form:
            continue
        try:
            rounds.save_action_update(
                site().store, cycle, round_, user, action.id,
                note=request.form.get(f"{prefix}:note", ""),
                note_was=request.form.get(f"{prefix}:note_was", ""),
                done=request.form.get(f"{prefix}:done") == "1",
                due=request.form.get(f"{prefix}:due", "").strip(),
                due_was=request.form.get(f"{prefix}:due_was", ""),
                reason=request.form.get(f"{prefix}:reason", ""))
        except rounds.ActionConflict as exc:
            problems[prefix] = str(exc)
            # The message shows the note as it now stands: it is the basis of the next save,
            # or the merged text would be refused again and again.
            typed.pop(f"{prefix}:note_was", None)
        except ReviewkitError as exc:
            problems[prefix] = str(exc)
        else:
            _forget(typed, prefix)  # shown again as stored (a moved due date adds to the note)
    return problems, conflicts, typed


def _forget(typed: dict[str, str], prefix: str) -> None:
    """Leave out what was typed in the fields of one KPI or action (``prefix``:field)."""
    for key in [key for key in typed if key.startswith(f"{prefix}:")]:
        del typed[key]


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _render_my_page(round_: Round, user: User, problems: Mapping[str, str],
                    conflicts: Mapping[str, Any], typed: Mapping[str, str],
                    code: int) -> tuple[str, int]:
    values = site().cycle.values(round_.id)
    progress = site().cycle.progress(round_.id)
    owners = rounds.page_owners(site().store, round_, user)
    done = bool(owners) and all(progress[o].done_at for o in owners if o in progress)
    return render_template(
        "my_page.html", round=round_, tasks=rounds.kpi_tasks(round_, user), values=values,
        actions=rounds.action_tasks(site().store, user), problems=problems,
        conflicts=conflicts, typed=typed, done=done, owners=owners,
        override_statuses=OVERRIDE_STATUSES, today=clock(),
        kpi_names=rounds.kpi_names(round_)), code


# -- the office --------------------------------------------------------------------------------

def _office_routes(app: Flask) -> None:
    publishing: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()
    app.extensions["reviewkit_publishing"] = publishing

    @app.route("/rounds", methods=["GET", "POST"])
    @roles("office", "analyst")
    def rounds_page() -> Any:
        error = ""
        if request.method == "POST":
            if me().role != "office":
                abort(403)
            chosen = request.form.get("params", "")
            # Only a definition from the list: a path a request names is never read (its
            # contents would be echoed in errors), nor another file of a served pack opened.
            definition = next((d for d in site().definitions if str(d.path) == chosen), None)
            if definition is None:
                error = ("Choose one of the pack definitions this server serves from the list; "
                         "a round opens on no other.")
            else:
                try:
                    opened = rounds.open_round(site().store, definition.path,
                                               request.form.get("cadence", ""),
                                               period=request.form.get("period") or None,
                                               due=request.form.get("due", ""), by=me().name)
                except (ReviewkitError, KeyError) as exc:
                    error = str(exc).strip("'\"")
                else:
                    flash(f"Round {opened.name} is open until {format_date(opened.due)}.")
                    return redirect(url_for("tracker_page", round_id=opened.id))
        return render_template("rounds.html", rounds=site().cycle.rounds(),
                               definitions=site().definitions, cadences=cadences.names(),
                               error=error), 400 if error else 200

    @app.get("/rounds/<int:round_id>")
    @roles("office", "analyst")
    def tracker_page(round_id: int) -> Any:
        round_ = _the_round(round_id)
        users = site().cycle.users()
        rows = rounds.tracker(site().cycle, round_, users)
        return render_template(
            "tracker.html", round=round_, rows=rows,
            overrides=[item for row in rows for item in row.overrides],
            units=site().units_of(round_.params) if _served(round_) else [],
            job=publishing.get(round_id), approval_field=APPROVAL_FIELD)

    @app.post("/rounds/<int:round_id>/remind")
    @roles("office")
    def remind(round_id: int) -> Any:
        round_ = _the_round(round_id)
        if not round_.is_open:
            flash(f"The round {round_.name} is closed: no reminders were sent. Reopen it first "
                  "if owners must still update.")
            return redirect(url_for("tracker_page", round_id=round_id))
        users = site().cycle.users()
        rows = [row for row in rounds.tracker(site().cycle, round_, users)
                if row.state != "done"]
        mails, owners = [], []
        for person in {u.id: u for row in rows for u in row.people}.values():
            mine = [row.owner for row in rows if person in row.people]
            owners += mine
            mails.append(mail.Mail(person.name, person.email,
                                   f"Reminder: your updates for {round_.name} are due "
                                   f"{format_date(round_.due)}",
                                   f"Hello {person.name},\n\nYour updates for the {round_.name} "
                                   f"review ({', '.join(mine)}) are due on "
                                   f"{format_date(round_.due)}. Your page:\n\n"
                                   f"{site().settings.url}{url_for('my_page', round_id=round_id)}"
                                   "\n\nThank you.\n"))
        try:
            sent = mail.send(site().settings.smtp, mails)
        except mail.MailFailure as exc:
            flash(str(exc))
        else:
            site().cycle.reminded(round_id, owners, by=me().name)
            flash(f"Reminders sent to {sent} {'person' if sent == 1 else 'people'}.")
        return redirect(url_for("tracker_page", round_id=round_id))

    @app.post("/rounds/<int:round_id>/close")
    @roles("office")
    def close_round(round_id: int) -> Any:
        _the_round(round_id)
        reopen = request.form.get("reopen") == "1"
        site().cycle.close_round(round_id, by=me().name, reopen=reopen)
        flash("The round is open again." if reopen else "The round is closed.")
        return redirect(url_for("tracker_page", round_id=round_id))

    @app.post("/rounds/<int:round_id>/approve/<kpi_id>/<unit>")
    @roles("office")
    def approve(round_id: int, kpi_id: str, unit: str) -> Any:
        round_ = _the_round(round_id)
        key = "" if unit == "group" else unit
        if not round_.is_open:
            flash(f"The round {round_.name} is closed: nothing was changed. Reopen it to "
                  "approve or take back an owner's status.")
            return redirect(url_for("tracker_page", round_id=round_id))
        try:
            rounds.approve_status(site().cycle, round_, kpi_id, key, by=me().name,
                                  approve=request.form.get("approve") == "1")
        except (rounds.UpdateRefused, FieldConflict) as exc:
            flash(str(exc))
        return redirect(url_for("tracker_page", round_id=round_id))

    @app.post("/rounds/<int:round_id>/publish")
    @roles("office")
    def publish(round_id: int) -> Any:
        round_ = _the_round(round_id)
        force = request.form.get("force") == "1"
        with lock:
            running = publishing.get(round_id)
            if running and running["state"] == "running":
                flash("Publishing is under way.")
                return redirect(url_for("tracker_page", round_id=round_id))
            publishing[round_id] = {"state": "running", "started": clock().isoformat(),
                                    "results": [], "sent": 0, "error": ""}
        user = me()
        application = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        job = current_app.extensions.get("reviewkit_publish_job", _publish_job)
        worker = threading.Thread(target=job, name=f"publish-{round_id}", daemon=True,
                                  args=(application, round_, user, force, publishing[round_id]))
        worker.start()
        if current_app.config.get("PUBLISH_WAIT"):
            worker.join()
        flash("Publishing started: this page shows the outcome when it is done.")
        return redirect(url_for("tracker_page", round_id=round_id))

    @app.route("/people", methods=["GET", "POST"])
    @roles("office")
    def people() -> Any:
        error = ""
        if request.method == "POST":
            form = request.form
            try:
                person = check_person(form.get("email", ""), form.get("name", ""),
                                      form.get("role", ""),
                                      form.get("owns", "").split(";"),
                                      form.get("units", "").split(","),
                                      known_units=declared_units(site().definitions))
            except ValueError as exc:
                error = str(exc)
            else:
                try:
                    # Adding is not editing: an address typed again must not silently
                    # rewrite an account's role, units and what it answers for.
                    added = site().cycle.add_user(email=person.email, name=person.name,
                                                  role=person.role, owns=person.owns,
                                                  units=person.units, by=me().name,
                                                  replace=False)
                except PersonExists as exc:
                    error = (f"{exc}. To change their role or units, run reviewkit people "
                             f"add {person.email} with the new details, or edit the people "
                             "file.")
                else:
                    flash(f"{added.name} is a{'n' if added.role[0] in 'aeiou' else ''} "
                          f"{added.role}.")
                    if form.get("invite") == "1":
                        _invite(added)
                    return redirect(url_for("people"))
        return render_template("people.html", users=site().cycle.users(), roles=ROLES,
                               error=error, me=me()), 400 if error else 200

    @app.post("/people/<int:user_id>/invite")
    @roles("office")
    def invite(user_id: int) -> Any:
        user = site().cycle.user(user_id)
        if user is None:
            abort(404)
        _invite(user)
        return redirect(url_for("people"))

    @app.post("/people/<int:user_id>/deactivate")
    @roles("office")
    def deactivate(user_id: int) -> Any:
        user = site().cycle.user(user_id)
        if user is None:
            abort(404)
        if user.id == me().id:
            flash("You cannot deactivate yourself: ask another member of the office.")
        else:
            site().cycle.deactivate(user.email, by=me().name)
            flash(f"{user.name} can no longer sign in; their history stays. Add them again "
                  "to bring them back.")
        return redirect(url_for("people"))

    @app.get("/audit")
    @roles("office")
    def audit() -> Any:
        return render_template("audit.html", entries=site().cycle.audit_entries())


def as_stored(value: object) -> Markup:
    """Text a form field sends back (a box's text, an input's value): escaped but never
    isolated. The browser posts a field's text as the page gave it, so an isolate added here
    would be saved as a change the person never made, and wrapped again at every save."""
    return escape(value)


def _day(value: dt.date | str) -> str:
    """A day in words from a date or an ISO time stamp ('2026-12-06T09:30:00+00:00')."""
    return format_date(value if isinstance(value, dt.date) else dt.date.fromisoformat(value[:10]))


def _stamp(value: str) -> str:
    """An ISO time stamp as '6 Dec 2026 09:30 UTC' (the store keeps UTC)."""
    return f"{_day(value)} {value[11:16]} UTC"


def _served(round_: Round) -> bool:
    return any(str(d.path) == round_.params for d in site().definitions)


def _invite(user: User) -> None:
    days = site().settings.invitation_days
    text = (f"Hello {user.name},\n\n{me().name} invites you to the review cycle as "
            f"{user.role} ({ROLE_DUTIES[user.role]}).\n\nOpen this link to sign in and choose "
            f"your password (it works once, for {days} days):\n\n"
            f"{link_for(user, 'invitation')}\n")
    try:
        mail.send(site().settings.smtp, [mail.Mail(user.name, user.email,
                                                   "Your invitation to the review cycle",
                                                   text)])
    except mail.MailFailure as exc:
        flash(str(exc))
    else:
        site().cycle.audit(me().name, "invitation sent", user.email)
        flash(f"Invitation sent to {user.email}.")


def _publish_job(app: Flask, round_: Round, user: User, force: bool,
                 job: dict[str, Any]) -> None:
    """Publish the round's packs, then send each reader theirs (one message each)."""
    served = cast(Site, app.extensions["reviewkit"])
    try:
        results = rounds.publish_round(round_, approver=user.name, out_dir=served.packs,
                                       force=force, by=user.name,
                                       workers=served.settings.publish_workers)
        job["results"] = results
        published = [r for r in results if r.result is not None]
        served.cycle.audit(user.name, "round published", round_.name,
                           {"packs": [rounds.unit_word(r.unit) for r in published],
                            "refused": [rounds.unit_word(r.unit) for r in results
                                        if r.refused or r.error], "forced": force,
                            "disagreements": [item for r in results if r.agreement
                                              for item in r.agreement.disagreements]})
        with app.test_request_context(base_url=served.settings.url):
            job["sent"] = _send_packs(served, round_, published)
        job["state"] = "done"
    except Exception as exc:  # the page shows it; the log keeps the traceback
        log.exception("publishing %s failed", round_.name)
        job["error"] = str(exc)
        job["state"] = "failed"


def _send_packs(served: Site, round_: Round, published: Sequence[rounds.Published]) -> int:
    """One message per reader with the packs of their units: links, or the PDFs attached."""
    mails = []
    for reader in served.cycle.users():
        if reader.role != "reader" or not reader.active:
            continue
        theirs = [p for p in published if reader.may_read(rounds.unit_word(p.unit))]
        if not theirs:
            continue
        lines, pdfs = [], []
        for item in theirs:
            assert item.result is not None
            view = item.result.view
            name = view.evaluated.unit.name if view.evaluated.unit else view.organisation
            path = url_for("pack_file", cadence=round_.cadence, label=round_.label,
                           unit=rounds.unit_word(item.unit), name="pack.pdf")
            link = f"{served.settings.url}{path}"
            lines.append(f"- {view.title}, {name}: {link}")
            pdfs.append(item.result.pdf)
        attach = served.settings.attach_pdf and mail.attachable(pdfs)
        body = (f"Hello {reader.name},\n\nThe {round_.name} review "
                f"{'packs are' if len(theirs) > 1 else 'pack is'} published"
                f"{' (attached)' if attach else ''}:\n\n" + "\n".join(lines)
                + f"\n\nYour library: {served.settings.url}{url_for('library')}\n")
        mails.append(mail.Mail(reader.name, reader.email, f"Published: {round_.name} review",
                               body, tuple(pdfs) if attach else ()))
    if not mails:
        return 0
    sent = mail.send(served.settings.smtp, mails)
    served.cycle.audit("reviewkit", "packs sent", round_.name,
                       {"to": [m.to for m in mails]})
    return sent


# -- analysts: the narrative -------------------------------------------------------------------

def _narrative_routes(app: Flask) -> None:
    @app.route("/rounds/<int:round_id>/narrative/<unit>", methods=["GET", "POST"])
    @roles("analyst", "office")
    def narrative(round_id: int, unit: str) -> Any:
        round_ = _the_round(round_id)
        if not _served(round_):
            abort(404)
        key = "" if unit == "group" else unit
        if key not in {k for k, _ in site().units_of(round_.params)}:
            abort(404)
        evaluated = site().evaluate(round_, key)
        service = NarrativeService(site().store, evaluated)
        conflict: dict[str, Any] = {}
        code = 200
        if request.method == "POST":
            if me().role != "analyst":
                abort(403)
            cell_key = request.form.get("key", "")
            planned = {cell.key: cell for cell in service.plan(evaluated.cadence.narratives)}
            cell = planned.get(cell_key)
            if cell is None:
                abort(404)
            text = request.form.get("text", "")
            edit = NarrativeEdit(key=cell.key, kpi_id=cell.kpi_id, text=text,
                                 revision=_int(request.form.get("revision")),
                                 source=f"web {me().email}", where="the web page",
                                 conflict_hint="merge the two texts below and save again",
                                 basis=dict(cell.values))
            try:
                saved = service.save([edit], by=me().name)
            except NarrativeError as exc:
                conflict = {"key": cell.key, "text": text, "message": str(exc)}
                code = 409 if "changed in the store" in str(exc) else 400
            else:
                flash("Saved." if saved else "Nothing changed.")
                return redirect(url_for("narrative", round_id=round_id, unit=unit)
                                + f"#{cell.key}")
        cells = service.plan(evaluated.cadence.narratives)
        return render_template("narrative.html", round=round_, unit=unit, cells=cells,
                               conflict=conflict, evaluated=evaluated,
                               units=site().units_of(round_.params)), code


# -- the leaders' library ----------------------------------------------------------------------

def _library_routes(app: Flask) -> None:
    @app.get("/library")
    @login_required
    def library() -> Any:
        user = me()
        packs = site().library(user)
        seen = user.library_seen_at or ""
        now = periods.now().isoformat()
        site().cycle.library_seen(user.id, now)
        return render_template("library.html", packs=packs, seen=seen,
                               new=[p for p, _ in packs if p.generated_at > seen])

    @app.get("/packs/<cadence>/<label>/<unit>/<name>")
    @login_required
    def pack_file(cadence: str, label: str, unit: str, name: str) -> Any:
        if name not in ("pack.pdf", "pack.html"):
            abort(404)
        if not me().may_read(unit):
            abort(403)
        path = site().pack_file(me(), cadence, label, unit, name)
        if path is None or not path.is_file():
            abort(404)
        site().cycle.audit(me().name, "pack read", f"{cadence} {label} {unit}", {"file": name})
        response = send_file(path, mimetype="application/pdf" if name == "pack.pdf"
                             else "text/html", download_name=f"{cadence}-{label}-{unit}-{name}",
                             as_attachment=name == "pack.pdf")
        if name == "pack.html":
            # The pack's own page: its inline styles and images, and still no script.
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                "frame-ancestors 'none'")
        return response
