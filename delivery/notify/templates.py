"""The AlimTalk template table (config/alimtalk-templates.toml): per notice kind, the code of the
template approved by Kakao, its text with #{variables}, its buttons and whether NHN falls back to
SMS when KakaoTalk cannot deliver it. Checked at start against Kakao's rules (fact sheet §7) and
against the notices' own texts, so the log channel and KakaoTalk say the same words."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..domain.notices import CUSTOMER, STORE, customer_templates, owner_templates

VARIABLE = re.compile(r"#\{(\w+)\}")
VARIABLES = ("orderId", "amount", "items", "reason", "orderUrl")
MAX_CODE, MAX_TEXT, MAX_BUTTONS, MAX_BUTTON_NAME, MAX_VARIABLES = 20, 1000, 5, 14, 40


class TemplateError(ValueError):
    """The template table breaks a rule; the message names the template."""


@dataclass(frozen=True)
class Button:
    type: str
    name: str
    link: str


@dataclass(frozen=True)
class Template:
    recipient_kind: str
    kind: str
    code: str
    text: str
    buttons: tuple[Button, ...]
    resend: bool

    @property
    def variables(self) -> tuple[str, ...]:
        """The template's #{variables}, text first, then button links."""
        found = VARIABLE.findall(self.text) + [v for b in self.buttons
                                                for v in VARIABLE.findall(b.link)]
        return tuple(dict.fromkeys(found))


def load(path: Path) -> dict[tuple[str, str], Template]:
    """The table by (recipient kind, notice kind); raises TemplateError."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise TemplateError(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path} is not valid TOML: {exc}") from None
    known = {CUSTOMER: customer_templates(), STORE: owner_templates()}
    table: dict[tuple[str, str], Template] = {}
    for recipient, kinds in raw.items():
        if recipient not in known or not isinstance(kinds, dict):
            raise TemplateError(f"unknown recipient {recipient!r} (customer or store)")
        for kind, spec in kinds.items():
            table[(recipient, kind)] = _template(recipient, kind, spec, known[recipient])
    codes = [t.code for t in table.values()]
    dupes = {c for c in codes if codes.count(c) > 1}
    if dupes:
        raise TemplateError(f"template codes used twice: {sorted(dupes)}")
    return table


def _template(recipient: str, kind: str, spec: object, texts: dict[str, str]) -> Template:
    where = f"{recipient}.{kind}"
    if kind not in texts:
        raise TemplateError(f"{where}: no notice of that kind")
    if not isinstance(spec, dict) or set(spec) - {"code", "text", "buttons", "resend"}:
        raise TemplateError(f"{where}: a table of code, text, buttons, resend")
    code, text = spec.get("code"), spec.get("text")
    if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE:
        raise TemplateError(f"{where}.code: 1..{MAX_CODE} characters")
    if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
        raise TemplateError(f"{where}.text: 1..{MAX_TEXT} characters")
    if text != texts[kind]:
        raise TemplateError(f"{where}.text differs from the notice's text {texts[kind]!r}")
    buttons = []
    for i, b in enumerate(spec.get("buttons", [])):
        if not isinstance(b, dict) or b.get("type") != "WL" or not isinstance(b.get("name"), str) \
                or not isinstance(b.get("link"), str):
            raise TemplateError(f"{where}.buttons[{i}]: {{type = \"WL\", name, link}}")
        if not 0 < len(b["name"]) <= MAX_BUTTON_NAME or VARIABLE.search(b["name"]):
            raise TemplateError(f"{where}.buttons[{i}].name: 1..{MAX_BUTTON_NAME} characters, "
                                "no variables")
        if not (b["link"].startswith(("http://", "https://")) or b["link"] == "#{orderUrl}"):
            raise TemplateError(f"{where}.buttons[{i}].link: an http(s) URL or #{{orderUrl}}")
        buttons.append(Button(b["type"], b["name"], b["link"]))
    if len(buttons) > MAX_BUTTONS:
        raise TemplateError(f"{where}.buttons: at most {MAX_BUTTONS}")
    resend = spec.get("resend", False)
    if not isinstance(resend, bool):
        raise TemplateError(f"{where}.resend: true or false")
    template = Template(recipient, kind, code, text, tuple(buttons), resend)
    unknown = set(template.variables) - set(VARIABLES)
    if unknown or len(template.variables) > MAX_VARIABLES:
        raise TemplateError(f"{where}: unknown variables {sorted(unknown)}")
    return template
