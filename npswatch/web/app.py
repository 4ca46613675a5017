"""Routes of the web app: login and logout, the signals inbox with triage, the candidate review queue, sources
and health (`npswatch status`), the audit log; the substance page and the map are in `substance.py`. Every handler reads the session's account, calls a `Watch` method (in a worker thread: they block)
and renders a template; every POST checks the CSRF token first and answers with a redirect (303)."""
from __future__ import annotations

import secrets
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, pass_context
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from npswatch.errors import WatchError

from .i18n import cls_name, from_header, kind_name, translator
from .security import LoginThrottle, SecurityHeaders, same_token
from .substance import routes as substance_routes, rows_html, warm_map

SEARCH_PAGE = 25  # hits per page of the Search page
LIST_PAGE = 50  # signals, or candidates, per page of the inbox and the review queue
SESSION_COOKIE = "npswatch_session"
LOGIN_CSRF_COOKIE = "npswatch_login_csrf"


def _env() -> Environment:
    env = Environment(loader=PackageLoader("npswatch.web", "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    def local(ctx, d, fmt: str) -> str:
        if isinstance(d, str) and d:
            d = datetime.fromisoformat(d)
        if not isinstance(d, datetime):
            return d or ""
        return d.astimezone(ctx["tz"]).strftime(fmt) if d.tzinfo else d.strftime(fmt)

    env.filters["when"] = pass_context(lambda ctx, d: local(ctx, d, "%Y-%m-%d %H:%M"))
    env.filters["day"] = pass_context(lambda ctx, d: local(ctx, d, "%Y-%m-%d"))
    env.globals["rows_html"] = rows_html
    env.filters["safe_url"] = lambda u: u if isinstance(u, str) and u.lower().startswith(("http://", "https://")) else None
    return env


def _offset(request: Request) -> int:
    try:
        return max(0, int(request.query_params.get("offset") or 0))
    except ValueError:
        return 0


def _pages(request: Request, offset: int, shown: int, total: int, size: int) -> dict:
    """What a paged list shows above and below it: the range, the total, and the previous and next pages' links
    (the same query with another offset; None at either end)."""
    def at(o: int) -> str:
        q = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        return request.url.path + "?" + urlencode(q + ([("offset", str(o))] if o else []))

    return {"first": offset + 1 if shown else 0, "last": offset + shown, "total": total,
            "prev": at(max(0, offset - size)) if offset > 0 else None,
            "next": at(offset + size) if offset + shown < total else None}


def _local(path: str | None, default: str) -> str:
    """A redirect target inside the app (no other host, no scheme)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default


def create_app(watch, *, throttle: LoginThrottle | None = None, secure_cookies: bool | None = None) -> Starlette:
    """The ASGI app over `watch` (`npswatch.Watch`). `secure_cookies`: mark cookies Secure (default: when the
    request came over https)."""
    env = _env()
    throttle = throttle or LoginThrottle()

    def page(request: Request, name: str, code: int = 200, **ctx) -> HTMLResponse:
        from zoneinfo import ZoneInfo

        from npswatch.reports.signals import KIND_TITLES

        ctx.setdefault("account", getattr(request.state, "account", None))
        lang = lang_of(request)
        account = ctx["account"]
        ctx.update(lang=lang, _=translator(lang), tz=ZoneInfo(account.timezone if account else "UTC"),
                   tz_name=account.timezone if account else "UTC",
                   cls_name=lambda c: cls_name(c, lang), kind_name=lambda k: kind_name(k, lang, KIND_TITLES))
        return HTMLResponse(env.get_template(name).render(request=request, path=request.url.path, **ctx),
                            status_code=code)

    def lang_of(request: Request) -> str:
        account = getattr(request.state, "account", None)
        return account.language if account else from_header(request.headers.get("accept-language"))

    def set_cookie(request: Request, resp: Response, key: str, value: str, max_age: int | None = None) -> None:
        secure = request.url.scheme == "https" if secure_cookies is None else secure_cookies
        resp.set_cookie(key, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure)

    async def current(request: Request):
        account = await run_in_threadpool(watch.session_account, request.cookies.get(SESSION_COOKIE))
        request.state.account = account
        return account

    def refuse(request: Request, status: int, message: str) -> HTMLResponse:
        return page(request, "error.html", code=status, message=message)

    async def guarded(request: Request, role: str = "viewer"):
        """(account, None) if the session may act as `role`; else (None, the response to send)."""
        account = await current(request)
        if account is None:
            if request.method == "GET":
                return None, RedirectResponse("/login?" + urlencode({"next": str(request.url.path) + (
                    "?" + request.url.query if request.url.query else "")}), status_code=303)
            return None, refuse(request, 403, "Not logged in.")
        if not account.can(role):
            return None, refuse(request, 403, translator(lang_of(request))(
                "This needs the {role} role; you are a {have}.").format(role=role, have=account.role))
        return account, None

    async def form_checked(request: Request, account):
        form = await request.form()
        if not same_token(account.csrf, form.get("csrf")):
            return None, refuse(request, 403, "The form's security token is missing or stale: reload the page.")
        return form, None

    async def call(fn, *args, **kw):
        return await run_in_threadpool(partial(fn, *args, **kw))

    def when_of(request: Request):
        """A function writing a datetime as the pages do: "%Y-%m-%d %H:%M" in the account's time zone."""
        from zoneinfo import ZoneInfo

        account = getattr(request.state, "account", None)
        tz = ZoneInfo(account.timezone if account else "UTC")
        return lambda d: "" if d is None else d.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def form_action(default_back: str, role: str = "analyst"):
        """A POST handler `(request, account, form)` behind the role and CSRF checks; a use-case's refusal becomes
        an error page, and unless the handler answers itself, the browser goes back to the form's page."""
        def wrap(handler):
            async def endpoint(request: Request) -> Response:
                account, denied = await guarded(request, role)
                if denied:
                    return denied
                form, denied = await form_checked(request, account)
                if denied:
                    return denied
                try:
                    answer = await handler(request, account, form)
                except WatchError as exc:
                    return refuse(request, 403 if exc.code == 3 else 400, str(exc))
                except ValueError as exc:  # the review's own errors (unknown class, empty name)
                    return refuse(request, 400, str(exc))
                return answer or RedirectResponse(_local(form.get("back"), default_back), status_code=303)
            return endpoint
        return wrap

    # --- login ---------------------------------------------------------------------------------------------
    async def login_form(request: Request) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        resp = page(request, "login.html", csrf=token, next=_local(request.query_params.get("next"), "/signals"),
                    error=None, account=None)
        set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return resp

    async def login(request: Request) -> Response:
        form = await request.form()
        token = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not same_token(token, form.get("csrf")):
            return refuse(request, 403, "The form's security token is missing or stale: reload the page.")
        name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
        nxt = _local(form.get("next"), "/signals")
        keys = (f"name:{name.casefold()}", f"addr:{request.client.host if request.client else '-'}")
        wait = throttle.blocked(*keys)
        if wait > 0:
            resp = page(request, "login.html", code=429, csrf=token, next=nxt, account=None,
                        error=translator(lang_of(request))("Too many failed logins: try again in {s} s.")
                        .format(s=int(wait) + 1))
            resp.headers["retry-after"] = str(int(wait) + 1)
            return resp
        account = await call(watch.authenticate, name, password)
        if account is None:
            throttle.failed(*keys)
            return page(request, "login.html", code=401, csrf=token, next=nxt, account=None,
                        error=translator(lang_of(request))("Wrong name or password."))
        throttle.succeeded(*keys)
        session, _csrf = await call(watch.open_session, account)
        resp = RedirectResponse(nxt, status_code=303)
        set_cookie(request, resp, SESSION_COOKIE, session)
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return resp

    async def logout(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        form, denied = await form_checked(request, account)
        if denied:
            return denied
        await call(watch.close_session, request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # --- signals -------------------------------------------------------------------------------------------
    async def signals(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        from npswatch.pipelines.facts import CLASSES
        from npswatch.reports.signals import KIND_TITLES, KINDS
        from npswatch.triage import STATUSES

        q = request.query_params
        f = {k: (q.get(k) or "").strip() or None for k in ("kind", "cls", "country", "since", "until", "status")}
        offset = _offset(request)
        error, total = None, 0
        try:
            rows = await call(watch.inbox, **f, limit=LIST_PAGE, offset=offset)
            total = await call(watch.inbox_count, **f)
        except (WatchError, ValueError) as exc:
            rows, error = [], str(exc)
        return page(request, "signals.html", rows=rows, f=f, kinds=KINDS, kind_titles=KIND_TITLES, classes=CLASSES,
                    statuses=STATUSES, error=error, pages=_pages(request, offset, len(rows), total, LIST_PAGE),
                    back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""))

    @form_action("/signals")
    async def signal_status(request: Request, account, form) -> None:
        await call(watch.set_signal_status, int(request.path_params["id"]), str(form.get("status") or ""),
                   str(form.get("note") or ""), by=account)

    # --- candidates ----------------------------------------------------------------------------------------
    async def candidates(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        from npswatch.pipelines.facts import CLASSES

        q = request.query_params
        status, kind = q.get("status") or "new", q.get("kind") or "all"
        offset = _offset(request)
        error, total = None, 0
        try:
            rows = await call(watch.review_queue, status, kind, limit=LIST_PAGE, offset=offset)
            total = await call(watch.count_candidates, status, kind)
        except ValueError as exc:
            rows, error = [], str(exc)
        try:
            channels = await call(watch.discovered, limit=50)
        except ValueError as exc:  # a bad telegram.channels entry in the configuration
            channels, error = [], str(exc)
        sites = await call(watch.discovered_sites, limit=50)
        return page(request, "candidates.html", rows=rows, status=status, kind=kind, classes=CLASSES, error=error,
                    channels=channels, sites=sites, pages=_pages(request, offset, len(rows), total, LIST_PAGE),
                    back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""))

    @form_action("/candidates")
    async def candidate_action(request: Request, account, form) -> Response | None:
        name, action = str(form.get("name") or ""), request.path_params["action"]
        if action == "confirm":
            await call(watch.confirm_candidate, name, (form.get("cls") or None),
                       (str(form.get("canonical") or "").strip() or None), by=account)
        elif action == "dismiss":
            await call(watch.dismiss_candidate, name, by=account)
        else:
            return refuse(request, 404, "No such action.")
        return None

    @form_action("/candidates")
    async def channel_add(request: Request, account, form) -> None:
        await call(watch.add_channel, str(form.get("channel") or ""), by=account)

    @form_action("/candidates")
    async def site_add(request: Request, account, form) -> None:
        await call(watch.add_site, str(form.get("site") or ""), by=account)

    # --- audit log -----------------------------------------------------------------------------------------
    async def audit(request: Request) -> Response:
        account, denied = await guarded(request, "admin")
        if denied:
            return denied
        rows = await call(watch.audit_log, 300, by=account)
        return page(request, "audit.html", rows=rows)

    # --- search --------------------------------------------------------------------------------------------
    async def search(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        from npswatch.pipelines.facts import CLASSES
        from npswatch.reports.scope import ScopeError
        from npswatch.search import KINDS

        q = request.query_params
        f = {k: (q.get(k) or "").strip() or None for k in ("q", "kind", "source", "substance", "cls", "since", "until")}
        try:
            offset = max(0, int(q.get("offset") or 0))
        except ValueError:
            offset = 0
        result, error = None, None
        if f["q"]:
            try:
                result = await call(watch.search, f["q"], source=f["source"], kind=f["kind"], substance=f["substance"],
                                    cls=f["cls"], since=f["since"], until=f["until"], limit=SEARCH_PAGE, offset=offset)
            except (WatchError, ScopeError, ValueError) as exc:
                error = str(exc)
        more = None
        if result and offset + len(result.hits) < result.reachable:
            more = urlencode({**{k: v for k, v in f.items() if v}, "offset": offset + SEARCH_PAGE})
        return page(request, "search.html", f=f, result=result, error=error, kinds=KINDS, classes=CLASSES, more=more)

    # --- sources and health --------------------------------------------------------------------------------
    async def health(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        h = await call(watch.status)
        weekly = await call(watch.posts_per_week, [s.source for s in h.sources])
        return page(request, "health.html", h=h, weekly=weekly)

    async def home(request: Request) -> Response:
        return RedirectResponse("/signals", status_code=303)

    from pathlib import Path

    routes = [
        Route("/", home),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # none: the browser asks anyway
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/signals", signals),
        Route("/signals/{id:int}/status", signal_status, methods=["POST"]),
        Route("/candidates", candidates),
        Route("/channels/add", channel_add, methods=["POST"]),
        Route("/sites/add", site_add, methods=["POST"]),
        Route("/candidates/{action}", candidate_action, methods=["POST"]),
        Route("/audit", audit),
        Route("/health", health),
        *substance_routes(watch, page=page, guarded=guarded, call=call, refuse=refuse, when=when_of,
                          translate=lambda request: translator(lang_of(request))),
        Route("/search", search),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]
    import threading

    threading.Thread(target=warm_map, name="warm-map", daemon=True).start()
    app = Starlette(routes=routes)
    app.add_middleware(SecurityHeaders)
    return app
