"""Jinja2 templates for the mails Doorkeeper sends, overridable by the app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from doorkeeper.email.message import EmailMessage

__all__ = ["EmailTemplates", "RenderedEmail"]

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedEmail:
    """The parts of a rendered mail, before it gets a recipient."""

    subject: str
    text: str
    html: str | None = None

    def to_message(self, to: str, headers: dict[str, str] | None = None) -> EmailMessage:
        return EmailMessage(
            to=to, subject=self.subject, text=self.text, html=self.html, headers=headers or {}
        )


class EmailTemplates:
    """Renders `<name>.subject.txt`, `<name>.txt` and (if present) `<name>.html`.

    Templates are looked up first in `directory` (the app's), then in the ones shipped
    with Doorkeeper, so an app overrides any template, `base.html` and `base.txt`
    included, by placing a file of the same name in its directory. HTML is
    autoescaped; an undefined variable is an error, not an empty string.
    Every template receives `app_name`.
    """

    def __init__(
        self, directory: str | Path | None = None, *, app_name: str = "Doorkeeper"
    ) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if directory is not None:
            path = Path(directory)
            if not path.is_dir():
                raise ValueError(f"e-mail template directory not found: {str(path)!r}")
            loaders.append(jinja2.FileSystemLoader(path))
        loaders.append(jinja2.FileSystemLoader(PACKAGE_TEMPLATES))
        self.directory = None if directory is None else Path(directory)
        self.app_name = app_name
        self.environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml"), default_for_string=True, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, name: str, /, **context: Any) -> RenderedEmail:
        """Renders the mail `name`; its subject is collapsed to one line."""
        values = {"app_name": self.app_name, **context}
        subject = self.environment.get_template(f"{name}.subject.txt").render(values)
        text = self.environment.get_template(f"{name}.txt").render(values)
        try:
            html_template = self.environment.get_template(f"{name}.html")
        except jinja2.TemplateNotFound:
            html = None
        else:
            html = html_template.render(values)
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)

    def __repr__(self) -> str:
        return f"EmailTemplates(directory={self.directory!r}, app_name={self.app_name!r})"
