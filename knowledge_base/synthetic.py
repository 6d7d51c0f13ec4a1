"""Generated help-desk articles that are near misses of the real ones, to test ranking at scale.

``near_miss_articles(500)`` makes plausible articles about other applications, devices and
company processes ("Reset your SAP password", "Install Slack on Linux", "Book a desk", "Order
printer toner"...): they share many words with the real articles (password, install, printer,
phone, Wi-Fi...) but answer other questions.  A good ranking keeps the real answer first when
they are in the index; ``bench/kb_quality.py`` measures that.

The output depends only on ``count`` and ``seed``: the same call gives the same articles, in
the same order, on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from knowledge_base.articles import Article, Step, slugify

__all__ = ["DEFAULT_SEED", "near_miss_articles"]

DEFAULT_SEED = 20261207

# Business applications the real articles do not cover, with what they are for.
APPS: dict[str, str] = {
    "SAP": "orders, invoices and stock",
    "Workday": "payslips, holidays and your personal details",
    "Jira": "tracking project work and bugs",
    "Confluence": "team pages and documentation",
    "Slack": "chat with partner companies",
    "Concur": "travel bookings and expense claims",
    "ServiceNow": "IT and facilities requests",
    "Tableau": "reports and dashboards",
    "DocuSign": "signing contracts electronically",
    "Figma": "design files and prototypes",
    "GitLab": "source code and build pipelines",
    "Miro": "online whiteboards",
    "Coupa": "purchase requests and supplier invoices",
    "Greenhouse": "recruiting and interview feedback",
    "Zendesk": "customer support tickets",
    "HubSpot": "marketing campaigns and contacts",
    "Asana": "team task lists",
    "Power BI": "finance dashboards",
    "Webex": "calls with customers who do not use Teams",
    "Adobe Acrobat": "editing and signing PDF files",
}
APP_OS = ["Windows", "macOS", "Linux", "Android", "iPhone", "Chromebook"]
DESKTOP_OS = ["Windows", "macOS", "Linux"]
SITES = [
    "Berlin", "Lisbon", "Austin", "Toronto", "Singapore", "Nairobi", "Warsaw", "Osaka", "Dublin",
    "Madrid", "Chicago", "Sydney", "Zurich", "Mumbai", "Oslo", "Lyon", "Denver", "Seoul",
]  # fmt: skip
DEVICES: dict[str, str] = {
    "label printer": "Brother QL-820",
    "desk phone": "Yealink T54W",
    "barcode scanner": "Zebra DS2208",
    "presentation clicker": "Logitech Spotlight",
    "document camera": "IPEVO V4K",
    "drawing tablet": "Wacom Intuos",
    "receipt printer": "Epson TM-T88",
    "smart board": "Samsung Flip",
    "signature pad": "Topaz SigLite",
    "3D printer": "Prusa MK4",
    "plotter": "HP DesignJet T650",
    "rugged tablet": "Panasonic Toughbook G2",
}
SUPPLIES = [
    "printer toner", "printer paper", "label rolls", "business cards", "a standing desk",
    "an ergonomic chair", "a footrest", "a laptop stand", "a privacy screen filter",
    "a replacement charger", "a second monitor", "a desk lamp", "noise-cancelling headphones",
    "a mobile phone contract", "a parking permit", "a locker key",
]  # fmt: skip
FACILITIES = [
    ("Book a desk", "desk", "the Workspace app"),
    ("Book a parking space", "parking space", "the Workspace app"),
    ("Book a meeting room for visitors", "meeting room", "the room booking page"),
    ("Reserve a quiet room", "quiet room", "the Workspace app"),
    ("Book a shower and locker", "locker", "the Workspace app"),
    ("Book the company car", "pool car", "the fleet booking page"),
    ("Reserve a loan laptop for travel", "loan laptop", "the equipment library page"),
    ("Book catering for a meeting", "catering order", "the facilities portal"),
]
PROCESSES = [
    ("Submit a travel expense claim", "expense claim", "Concur", "receipts"),
    ("Update your bank details for salary payments", "bank details change", "Workday", "bank letter"),
    ("Request annual leave", "leave request", "Workday", "dates"),
    ("Raise a purchase order", "purchase order", "Coupa", "supplier quote"),
    ("Register a new supplier", "supplier registration", "Coupa", "tax certificate"),
    ("Book a business trip", "trip request", "Concur", "travel dates"),
    ("Claim mileage for a business trip", "mileage claim", "Concur", "route"),
    ("Request a company credit card", "card request", "ServiceNow", "manager approval"),
    ("Report a workplace accident", "incident report", "ServiceNow", "witness names"),
    ("Change your cost centre", "cost centre change", "Workday", "new cost centre"),
    ("Request a visitor badge", "visitor registration", "the reception portal", "visitor names"),
    ("Order a new building access badge", "badge request", "ServiceNow", "photo"),
    ("Request a contract signature", "signature request", "DocuSign", "final contract"),
    ("Enrol in a training course", "course enrolment", "the learning portal", "course code"),
    ("Submit your timesheet", "timesheet", "Workday", "hours worked"),
    ("Request a reference letter", "reference letter", "Workday", "purpose of the letter"),
]
ISSUES = [
    ("crashes when it starts", "crash", "The app closes straight after its window appears."),
    ("shows a blank white window", "blank window", "The window opens but stays empty."),
    ("notifications do not appear", "notifications", "Messages arrive but there is no alert."),
    ("is stuck on an old version", "update", "The About screen shows a version older than a month."),
    ("cannot export to PDF", "export", "The export button does nothing or shows an error."),
    ("shows the wrong language", "language", "Menus are in a language you did not choose."),
    ("does not open links from email", "links", "Clicking a link opens the browser instead of the app."),
    ("runs out of licences", "licence", "A message says no licence is available for your account."),
]
TOPICS_SECURITY = [
    ("Encrypt a USB stick before copying customer data", "usb encryption"),
    ("Send a large file securely to a customer", "secure file transfer"),
    ("Classify a document as confidential", "data classification"),
    ("Use a privacy screen when working in public", "privacy screen"),
    ("Travel abroad with a company laptop", "travel security"),
    ("Check a website before entering company data", "website check"),
    ("Lock away paper documents at the end of the day", "clean desk"),
    ("Shred confidential paper documents", "shredding"),
]


@dataclass(frozen=True, slots=True)
class _Draft:
    title: str
    summary: str
    category: str
    tags: tuple[str, ...]
    applies_to: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]
    steps: tuple[tuple[str, str], ...]


def _os_tag(os_name: str) -> str:
    return {"macOS": "macos", "iPhone": "iphone"}.get(os_name, os_name.lower())


def _app_password(rng: random.Random) -> Iterator[_Draft]:
    for app, use in APPS.items():
        portal = f"https://{slugify(app)}.example.com"
        yield _Draft(
            title=f"Reset your {app} password",
            summary=(
                f"{app} ({use}) has its own password, separate from your company sign-in. Open "
                f"{portal}, choose 'Trouble signing in' and follow the link {app} emails you."
            ),
            category="applications",
            tags=(slugify(app), f"{app.lower()} password", "application account"),
            applies_to=(),
            sections=(
                (
                    "Why a separate password",
                    f"{app} is run by an outside provider and keeps its own accounts. Changing your "
                    f"company password does not change your {app} password, and the reverse.",
                ),
                (
                    "If the reset email does not arrive",
                    f"Check the junk folder, wait {rng.choice([5, 10, 15])} minutes, then ask the "
                    f"{app} owner in your department to check that your {app} account is active.",
                ),
            ),
            steps=(
                (f"Open {portal} and select 'Trouble signing in'.", "A form asks for your user name."),
                (f"Enter your {app} user name and select Send.", f"An email from {app} arrives."),
                ("Open the link in the email and choose a new password.", f"You are signed in to {app}."),
            ),
        )


def _app_install(rng: random.Random) -> Iterator[_Draft]:
    for app, use in APPS.items():
        for os_name in APP_OS:
            store = {
                "Windows": "the Microsoft Store for Business",
                "macOS": "the Self Service app",
                "Linux": "the vendor's package repository",
                "Android": "the managed Google Play store",
                "iPhone": "the App Store",
                "Chromebook": "the Chrome Web Store",
            }[os_name]
            yield _Draft(
                title=f"Install {app} on {os_name}",
                summary=(
                    f"{app} is used for {use}. On {os_name} it is installed from {store}; you "
                    f"sign in with your {app} account the first time it opens."
                ),
                category="applications",
                tags=(slugify(app), "install", _os_tag(os_name)),
                applies_to=(_os_tag(os_name),),
                sections=(
                    (
                        "Before you start",
                        f"You need a {app} licence from your team lead and about "
                        f"{rng.choice([200, 400, 800])} MB of free space on the {os_name} device.",
                    ),
                    (
                        "Known issues",
                        f"Older {os_name} versions are not supported by {app}. If the install stops "
                        f"half-way, restart the device and start it again from {store}.",
                    ),
                ),
                steps=(
                    (f"Open {store} and search for {app}.", f"{app} is listed."),
                    ("Select Install and wait for it to finish.", f"The {app} icon appears."),
                    (f"Open {app} and sign in with your {app} account.", "Your projects are listed."),
                ),
            )


def _app_issue(rng: random.Random) -> Iterator[_Draft]:
    for app in APPS:
        for problem, tag, symptom in ISSUES:
            os_name = rng.choice(DESKTOP_OS)
            yield _Draft(
                title=f"{app} {problem} on {os_name}",
                summary=f"{symptom} Quit {app}, clear its local data and open it again; if that does "
                f"not help, reinstall {app}.",
                category="applications",
                tags=(slugify(app), tag, _os_tag(os_name)),
                applies_to=(_os_tag(os_name),),
                sections=(
                    ("What you see", f"{symptom} This happens in {app} on {os_name} only."),
                    (
                        "Clear the local data",
                        f"Quit {app}, delete the {app} folder in your user profile's local app data, "
                        f"then start {app} again. Your work is stored online and is not lost.",
                    ),
                    (
                        "Still not working",
                        f"Ask the {app} owner in your team; the provider publishes known problems "
                        f"on its status page.",
                    ),
                ),
                steps=(
                    (f"Quit {app} completely.", f"{app} is no longer running."),
                    (f"Delete the local {app} data folder.", "The folder is gone."),
                    (f"Open {app} again.", "The problem is gone."),
                ),
            )


def _device(rng: random.Random) -> Iterator[_Draft]:
    for device, model in DEVICES.items():
        for os_name in DESKTOP_OS:
            yield _Draft(
                title=f"Set up a {device} ({model}) on {os_name}",
                summary=f"Connect the {model} with its cable, install the {model} driver for "
                f"{os_name} and print or scan a test page.",
                category="hardware",
                tags=(device, slugify(model), _os_tag(os_name)),
                applies_to=(_os_tag(os_name),),
                sections=(
                    (
                        "What you need",
                        f"The {device} itself, its power cable and a free USB port. Departments order "
                        f"a {device} through their office manager.",
                    ),
                    (
                        "If it is not recognised",
                        f"Try another USB port and another cable. On {os_name}, unplug the {model}, "
                        f"restart and plug it in again after you sign in.",
                    ),
                ),
                steps=(
                    (f"Plug the {model} into a USB port and switch it on.", "Its light is green."),
                    (f"Install the {model} driver for {os_name}.", "The installer says it finished."),
                    ("Run the test from the driver's settings.", "The test succeeds."),
                ),
            )


def _supplies(rng: random.Random) -> Iterator[_Draft]:
    for item in SUPPLIES:
        for site in rng.sample(SITES, 6):
            name = item.removeprefix("a ").removeprefix("an ")
            yield _Draft(
                title=f"Order {item} for the {site} office",
                summary=f"In {site}, {name} is ordered through the facilities portal under "
                f"'Office supplies'. Orders placed before noon arrive in {rng.choice([2, 3, 5])} "
                f"working days.",
                category="facilities",
                tags=(slugify(name), "order", "office supplies", site.lower()),
                applies_to=(),
                sections=(
                    (
                        "Who can order",
                        f"Anyone based in {site}. Orders over 200 EUR need your manager's approval "
                        "in the portal.",
                    ),
                    (
                        "Delivery",
                        f"Deliveries go to the {site} reception. You get an email when your {name} "
                        "is ready to collect.",
                    ),
                ),
                steps=(
                    ("Open the facilities portal and choose 'Office supplies'.", "The catalogue opens."),
                    (f"Find {name}, choose the quantity and add it to the basket.", "The basket shows it."),
                    ("Submit the order.", "You receive an order number by email."),
                ),
            )


def _facilities(rng: random.Random) -> Iterator[_Draft]:
    for title, thing, tool in FACILITIES:
        for site in rng.sample(SITES, 8):
            yield _Draft(
                title=f"{title} in {site}",
                summary=f"Open {tool}, choose {site}, pick a date and a {thing}, and confirm. "
                f"Cancel at least {rng.choice([2, 4, 24])} hours ahead if your plans change.",
                category="facilities",
                tags=(slugify(thing), "booking", site.lower()),
                applies_to=(),
                sections=(
                    (
                        "Rules",
                        f"A {thing} in {site} can be booked up to two weeks ahead. Unused bookings are "
                        "released at 10:00.",
                    ),
                    (
                        "Check in",
                        f"Scan the code on the {thing} with your phone, or check in from {tool}.",
                    ),
                ),
                steps=(
                    (f"Open {tool} and select {site}.", "The floor plan is shown."),
                    (f"Pick a date and a free {thing}.", f"The {thing} turns blue."),
                    ("Select Confirm.", "A confirmation email arrives."),
                ),
            )


def _process(rng: random.Random) -> Iterator[_Draft]:
    for title, thing, tool, need in PROCESSES:
        for site in rng.sample(SITES, 6):
            yield _Draft(
                title=f"{title} ({site})",
                summary=f"Staff in {site} create a {thing} in {tool}. Have the {need} ready; your "
                f"manager approves it and you are told by email.",
                category="company processes",
                tags=(slugify(thing), slugify(tool), site.lower()),
                applies_to=(),
                sections=(
                    (
                        "Before you start",
                        f"You need the {need}. In {site}, the local office team answers questions "
                        f"about the {thing}.",
                    ),
                    (
                        "After you submit",
                        f"Your manager approves the {thing} in {tool}; this usually takes "
                        f"{rng.choice([1, 2, 3])} working days. Follow its status in {tool}.",
                    ),
                ),
                steps=(
                    (f"Sign in to {tool}.", "Your home page opens."),
                    (f"Create a new {thing} and attach the {need}.", "The form is complete."),
                    ("Submit it for approval.", "The status is 'Waiting for approval'."),
                ),
            )


def _security(rng: random.Random) -> Iterator[_Draft]:
    for title, tag in TOPICS_SECURITY:
        for site in rng.sample(SITES, 3):
            yield _Draft(
                title=f"{title} ({site} office guidance)",
                summary=f"{title}: the information security team in {site} explains what to do and "
                "which company tool to use.",
                category="security",
                tags=(tag, "security", site.lower()),
                applies_to=(),
                sections=(
                    (
                        "Why it matters",
                        "Customer and employee data must stay protected wherever you work. Mistakes "
                        "are reported to the data protection officer.",
                    ),
                    ("Who to ask", f"The information security contact for {site} answers questions."),
                ),
                steps=(
                    ("Read the guidance on the intranet security page.", "You know which tool to use."),
                    ("Follow the steps for your case.", "The data is protected."),
                ),
            )


_TEMPLATES: tuple[Callable[[random.Random], Iterator[_Draft]], ...] = (
    _app_password,
    _app_install,
    _app_issue,
    _device,
    _supplies,
    _facilities,
    _process,
    _security,
)


def _article(draft: _Draft, used: set[str]) -> Article:
    base = slugify(draft.title)[:90].strip("-")
    article_id, n = base, 2
    while article_id in used:
        article_id, n = f"{base}-{n}", n + 1
    used.add(article_id)
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in draft.sections)
    return Article(
        id=article_id,
        title=draft.title,
        summary=draft.summary,
        category=draft.category,
        tags=list(draft.tags),
        applies_to=list(draft.applies_to),
        status="published",
        body=body,
        steps=[Step(instruction=instruction, check=check) for instruction, check in draft.steps],
    )


def near_miss_articles(count: int = 500, seed: int = DEFAULT_SEED) -> list[Article]:
    """``count`` generated published articles, the same for the same ``count`` and ``seed``.

    Every template contributes in turn (round robin over shuffled candidates), so a small count
    still mixes applications, devices, supplies, bookings and company processes.
    """
    rng = random.Random(seed)
    pools: list[list[_Draft]] = []
    for template in _TEMPLATES:
        drafts = list(template(rng))
        rng.shuffle(drafts)
        pools.append(drafts)
    available = sum(len(pool) for pool in pools)
    if count > available:
        raise ValueError(f"at most {available} near-miss articles can be generated")
    chosen: list[_Draft] = []
    position = 0
    while len(chosen) < count:
        for pool in pools:
            if position < len(pool) and len(chosen) < count:
                chosen.append(pool[position])
        position += 1
    used: set[str] = set()
    return [_article(draft, used) for draft in chosen]
