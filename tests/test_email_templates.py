"""The shipped mail templates: every part renders, links appear, HTML is escaped, an
app's directory overrides any template."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jinja2
import pytest

from doorkeeper.email import EmailMessage, EmailTemplates, Mailer, MemoryEmailSender

PUBLIC_URL = "https://accounts.example.com"
TOKEN = "eyJ.payload+/=&?#.sig"
MALICIOUS = '<script>alert("x")</script>&'


class Links(HTMLParser):
    """The href of every <a>, and whether any <img> or <script> appears."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.forbidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)
        if tag in ("img", "script", "iframe", "link"):
            self.forbidden.append(tag)


def parse_html(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def render_all(templates: EmailTemplates) -> dict[str, EmailMessage]:
    sender = MemoryEmailSender()
    mailer = Mailer(sender, templates, PUBLIC_URL)
    await mailer.send_verify("alice@example.com", TOKEN)
    await mailer.send_reset_password("alice@example.com", TOKEN)
    await mailer.send_email_change("new@example.com", TOKEN)
    await mailer.send_email_changed_notice("alice@example.com", "new@example.com")
    await mailer.send_already_registered("alice@example.com")
    names = ["verify", "reset_password", "email_change", "email_changed_notice", "already"]
    return dict(zip(names, sender.outbox, strict=True))


async def test_token_mails_carry_their_link_in_both_parts() -> None:
    mails = await render_all(EmailTemplates(app_name="Acme"))
    expected = {
        "verify": "/verify",
        "reset_password": "/reset-password",
        "email_change": "/confirm-email",
    }
    for name, path in expected.items():
        mail = mails[name]
        assert mail.html is not None
        assert "Acme" in mail.subject
        assert "\n" not in mail.subject
        text_links = [line for line in mail.text.splitlines() if line.startswith("https://")]
        assert len(text_links) == 1, name
        assert text_links[0].startswith(f"{PUBLIC_URL}{path}?token=")
        assert token_of(text_links[0]) == TOKEN
        hrefs = parse_html(mail.html).hrefs
        assert hrefs, name
        assert all(href == text_links[0] for href in hrefs), name
    assert mails["email_change"].to == "new@example.com"
    assert "new@example.com" in mails["email_change"].text


async def test_subjects_and_wording_differ_per_mail() -> None:
    mails = await render_all(EmailTemplates())
    assert len({mail.subject for mail in mails.values()}) == len(mails)
    assert mails["verify"].subject == "Verify your e-mail address for Doorkeeper"
    assert mails["reset_password"].subject == "Reset your Doorkeeper password"
    assert "confirm" in mails["email_change"].text.lower()


async def test_notice_to_the_old_address_names_the_new_one() -> None:
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(), PUBLIC_URL)
    await mailer.send_email_changed_notice("old@example.com", "new@example.com")
    await mailer.send_email_changed_notice("old@example.com", "new@example.com", confirmed=True)
    requested, confirmed = sender.outbox
    assert requested.to == confirmed.to == "old@example.com"
    for mail in (requested, confirmed):
        assert "old@example.com" in mail.text
        assert "new@example.com" in mail.text
        assert mail.html is not None
        assert "new@example.com" in mail.html
    assert "requested" in requested.subject
    assert "was changed" in confirmed.subject
    assert "takes effect only once it is confirmed" in requested.text
    assert f"{PUBLIC_URL}/forgot-password" in requested.text
    assert parse_html(requested.html or "").hrefs == [f"{PUBLIC_URL}/forgot-password"] * 2
    assert "forgot-password" not in confirmed.text
    assert "contact Doorkeeper" in confirmed.text


async def test_already_registered_offers_sign_in_and_reset() -> None:
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(), PUBLIC_URL)
    await mailer.send_already_registered("alice@example.com")
    await mailer.send_already_registered("alice@example.com", reset_token=TOKEN)
    plain, with_token = sender.outbox
    assert "tried to" in plain.subject
    assert f"{PUBLIC_URL}/login" in plain.text
    assert f"{PUBLIC_URL}/forgot-password" in plain.text
    assert "token=" not in plain.text
    hrefs = parse_html(plain.html or "").hrefs
    assert f"{PUBLIC_URL}/login" in hrefs
    assert f"{PUBLIC_URL}/forgot-password" in hrefs
    reset_links = [line for line in with_token.text.splitlines() if "reset-password" in line]
    assert len(reset_links) == 1
    assert token_of(reset_links[0]) == TOKEN


async def test_html_is_plain_and_accessible() -> None:
    mails = await render_all(EmailTemplates())
    for name, mail in mails.items():
        assert mail.html is not None
        parsed = parse_html(mail.html)
        assert parsed.forbidden == [], name
        assert '<html lang="en">' in mail.html
        assert "<title>" in mail.html
        assert all(href.startswith(PUBLIC_URL) for href in parsed.hrefs), name
        assert "http://" not in mail.html
        assert "@import" not in mail.html
        assert "url(" not in mail.html


async def test_html_escapes_app_name_and_addresses_text_does_not() -> None:
    mails = await render_all(EmailTemplates(app_name=MALICIOUS))
    for name, mail in mails.items():
        assert mail.html is not None
        assert "<script>" not in mail.html, name
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in mail.html, name
        assert parse_html(mail.html).forbidden == [], name
        # Plain text is not HTML: the name appears as given.
        assert MALICIOUS in mail.text, name
        assert MALICIOUS in mail.subject, name
    evil_address = '"<img src=x>"@example.com'
    sender = MemoryEmailSender()
    mailer = Mailer(sender, EmailTemplates(), PUBLIC_URL)
    await mailer.send_email_changed_notice("old@example.com", evil_address)
    html = sender.outbox[0].html or ""
    assert "<img" not in html
    assert "&lt;img src=x&gt;" in html
    assert parse_html(html).forbidden == []


def test_subject_is_one_line_even_if_a_template_breaks_it(tmp_path: Path) -> None:
    (tmp_path / "verify.subject.txt").write_text("Line one\r\n  line\ttwo\n\n")
    rendered = EmailTemplates(tmp_path).render("verify", email="a@example.com", link="x")
    assert rendered.subject == "Line one line two"
    rendered = EmailTemplates(app_name="A\r\nBcc: victim@example.com").render(
        "verify", email="a@example.com", link="x"
    )
    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject


def test_app_directory_overrides_a_template_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "verify.txt").write_text("Custom {{ app_name }}: {{ link }}\n")
    templates = EmailTemplates(str(tmp_path), app_name="Acme")
    rendered = templates.render("verify", email="a@example.com", link="https://x/verify")
    assert rendered.text == "Custom Acme: https://x/verify\n"
    assert rendered.subject == "Verify your e-mail address for Acme"
    assert rendered.html is not None
    assert "https://x/verify" in rendered.html
    other = templates.render("reset_password", email="a@example.com", link="https://x/r")
    assert "Someone, hopefully you" in other.text


def test_overriding_the_base_layout_changes_every_html_mail(tmp_path: Path) -> None:
    (tmp_path / "base.html").write_text(
        '<main data-brand="{{ app_name }}">{% block body %}{% endblock %}</main>'
    )
    templates = EmailTemplates(tmp_path, app_name="A&B")
    for name in ("verify", "reset_password", "email_change"):
        html = templates.render(name, email="a@example.com", link="https://x/y").html
        assert html is not None
        assert html.startswith('<main data-brand="A&amp;B">'), name


def test_a_custom_template_without_html_is_text_only(tmp_path: Path) -> None:
    (tmp_path / "welcome.subject.txt").write_text("Welcome, {{ name }}")
    (tmp_path / "welcome.txt").write_text("Hello {{ name }} <3")
    rendered = EmailTemplates(tmp_path).render("welcome", name="Bob")
    assert rendered.subject == "Welcome, Bob"
    assert rendered.text == "Hello Bob <3"
    assert rendered.html is None
    message = rendered.to_message("bob@example.com", {"Reply-To": "help@example.com"})
    assert message == EmailMessage(
        to="bob@example.com",
        subject="Welcome, Bob",
        text="Hello Bob <3",
        headers={"Reply-To": "help@example.com"},
    )


def test_a_missing_variable_is_an_error_not_an_empty_link() -> None:
    with pytest.raises(jinja2.UndefinedError):
        EmailTemplates().render("verify", email="a@example.com")


def test_an_unknown_template_is_an_error() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        EmailTemplates().render("no_such_mail")


def test_a_missing_template_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="template directory not found"):
        EmailTemplates(tmp_path / "missing")
    file = tmp_path / "file.txt"
    file.write_text("")
    with pytest.raises(ValueError, match="template directory not found"):
        EmailTemplates(file)


def test_repr_names_directory_and_app(tmp_path: Path) -> None:
    assert repr(EmailTemplates(tmp_path, app_name="Acme")) == (
        f"EmailTemplates(directory={tmp_path!r}, app_name='Acme')"
    )
