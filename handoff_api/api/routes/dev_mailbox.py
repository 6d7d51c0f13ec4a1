"""The dev mailbox: in demo mode a lead reads the mail the service 'sent' (e.g. one-time codes).

Outside demo mode (`HELPDESK_DEMO` unset or false) the route does not exist: 404.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import EmailStr
from sqlalchemy import select

from handoff_api.api.deps import SessionDep, SettingsDep, require_roles
from handoff_api.core.errors import NotFound
from handoff_api.mail import schemas
from handoff_api.models import DevMail, User

router = APIRouter(prefix="/api/v1/dev", tags=["dev"])

CurrentLead = Annotated[User, Depends(require_roles("lead"))]


def _demo_only(settings: SettingsDep) -> None:
    if not settings.helpdesk_demo:
        raise NotFound("the dev mailbox exists in demo mode only")


@router.get("/mailbox", response_model=list[schemas.DevMailOut], dependencies=[Depends(_demo_only)])
def read_mailbox(
    session: SessionDep,
    _lead: CurrentLead,
    to: Annotated[EmailStr, Query(description="the recipient's address")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[schemas.DevMailOut]:
    rows = session.scalars(
        select(DevMail).where(DevMail.to == to.lower()).order_by(DevMail.id.desc()).limit(limit)
    )
    return [schemas.DevMailOut(to=m.to, subject=m.subject, body=m.body, sent_at=m.sent_at) for m in rows]


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dev mailbox - IT help desk (demo)</title>
<style>body{font:15px system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
input{font:inherit;padding:.3rem;width:20rem}article{border:1px solid #ccc;border-radius:6px;
padding:.6rem 1rem;margin:.8rem 0}pre{white-space:pre-wrap;margin:.4rem 0}small{color:#555}</style>
</head><body><h1>Dev mailbox (demo mode)</h1>
<p>Mail the help desk would have sent, for example your one-time code. Use the lead token that
<code>make run</code> printed (lena).</p>
<form id="f"><p><label>Lead token <input id="token" type="password" required></label></p>
<p><label>E-mail <input id="to" type="email" value="jane.doe@example.com" required></label>
<button>Show mail</button></p></form><div id="out" aria-live="polite"></div>
<script>
const f=document.getElementById('f'),out=document.getElementById('out');
f.token.value=sessionStorage.getItem('leadToken')||'';
f.addEventListener('submit',async e=>{e.preventDefault();sessionStorage.setItem('leadToken',f.token.value);
const r=await fetch('/api/v1/dev/mailbox?to='+encodeURIComponent(f.to.value),
{headers:{Authorization:'Bearer '+f.token.value}});out.textContent='';
if(!r.ok){out.textContent='Error '+r.status;return}const mails=await r.json();
if(!mails.length){out.textContent='No mail for this address yet.';return}
for(const m of mails){const a=document.createElement('article'),h=document.createElement('strong'),
s=document.createElement('small'),p=document.createElement('pre');h.textContent=m.subject;
s.textContent=' '+m.sent_at;p.textContent=m.body;a.append(h,s,p);out.append(a)}});
</script></body></html>"""

page_router = APIRouter(tags=["dev"], include_in_schema=False)


@page_router.get("/dev/mailbox", response_class=HTMLResponse, dependencies=[Depends(_demo_only)])
def mailbox_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)
