"""How every customer-facing page is served: the templates under templates/checkout/, in the
customer's locale, in the merchant's colour, under a CSP that loads nothing from elsewhere
(but Stripe.js, on the pages that need it)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import falcon

from api import html
from api.checkout.locale import Formats
from domain.accounts import MerchantDisplay
from domain.models import CheckoutSession

# The hosted pages load nothing from elsewhere and may not be framed. `form-action` names exactly
# where a page's forms may take the browser: nowhere, unless the page says (the checkout page: its
# own origin, and the origins of the success and return URLs its Pay and Cancel redirect to,
# since browsers check a form's redirects against form-action too). Styles may be inline, scripts
# may not run at all: the merchant's colour is a CSS custom property in a `style` attribute.
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action {form_action}; "
            "frame-ancestors 'none'; base-uri 'none'")

# A page that loads Stripe.js (the card field of a checkout on the stripe processor, and its 3-D
# Secure step) opens the policy as far as Stripe.js needs and no further: its script and our one
# script file (STATIC_ROUTE); the frames Stripe.js mounts, from its own origin; its calls to
# Stripe's API. Forms still go only where form-action says.
STRIPE_JS_CSP = "script-src 'self' {js}; frame-src {frames}; connect-src {api}; "
# Real Stripe.js also frames 3-D Secure pages from hooks.stripe.com (Stripe's CSP guidance).
STRIPE_JS_FRAMES = {"https://js.stripe.com": "https://js.stripe.com https://hooks.stripe.com"}
STRIPE_API_ORIGIN = "https://api.stripe.com"  # where Stripe.js calls, unless STRIPE_API_BASE says elsewhere
STATIC_ROUTE = "/checkout/static"  # api/static: the page's script, checkout-stripe.js

_CSP_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")  # nothing else in a CSP

DEFAULT_ACCENT = "#635bff"
DARK_TEXT, LIGHT_TEXT = "#1a1f36", "#ffffff"
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(color: str) -> float:
    """WCAG relative luminance of `#RRGGBB`."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(color[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def accent_style(brand_color: str | None) -> str:
    """`--accent: #0a7c59; --on-accent: #ffffff`: the merchant's colour when it is `#RRGGBB` (else
    ours), and whichever text colour, white or near-black, reads better on it."""
    accent = brand_color if brand_color and _HEX_COLOR.fullmatch(brand_color) else DEFAULT_ACCENT
    shade = _luminance(accent)
    on_white = 1.05 / (shade + 0.05)
    on_dark = (shade + 0.05) / (_luminance(DARK_TEXT) + 0.05)
    return f"--accent: {accent.lower()}; --on-accent: {LIGHT_TEXT if on_white >= on_dark else DARK_TEXT}"


def form_origins(own: set[str], session: CheckoutSession | None) -> tuple[str, ...]:
    """Where a page's forms may take the browser: our own origins, and the origins of the session's
    success and return URLs, which Pay, Cancel and the answer to an authentication redirect to."""
    urls = (session.success_url or "", session.return_url or "") if session else ()
    origins = [*own, *(html.origin_of(url) for url in urls)]
    return tuple(dict.fromkeys(o for o in origins if _CSP_ORIGIN.fullmatch(o)))


@dataclass(frozen=True)
class StripeJs:
    """What a page needs to load Stripe.js: its URL (STRIPE_JS_URL), the origin its calls go to,
    and the merchant's publishable key."""

    url: str
    api_origin: str
    publishable_key: str

    @classmethod
    def of(cls, stripe_js_url: str, stripe_api_base: str | None, publishable_key: str) -> StripeJs:
        """Stripe's API origin, or that of STRIPE_API_BASE (localstripe in tests)."""
        return cls(stripe_js_url, html.origin_of(stripe_api_base) if stripe_api_base else STRIPE_API_ORIGIN,
                   publishable_key)

    def csp(self) -> str:
        js, api = html.origin_of(self.url), self.api_origin
        if not (_CSP_ORIGIN.fullmatch(js) and _CSP_ORIGIN.fullmatch(api)):
            raise ValueError("STRIPE_JS_URL and STRIPE_API_BASE must be plain http(s) URLs")
        return STRIPE_JS_CSP.format(js=js, frames=STRIPE_JS_FRAMES.get(js, js), api=api)


def csp_for(form_origins: tuple[str, ...] = (), stripe_js: StripeJs | None = None) -> str:
    """The page's Content-Security-Policy: PAGE_CSP, and what Stripe.js needs when it loads it."""
    csp = PAGE_CSP.format(form_action=" ".join(form_origins) or "'none'")
    if stripe_js is None:
        return csp
    return csp.replace("default-src 'none'; ", "default-src 'none'; " + stripe_js.csp(), 1)


def render(req: falcon.Request, resp: falcon.Response, template: str, *, status: int = 200,
           form_origins: tuple[str, ...] = (), merchant: MerchantDisplay | None = None, livemode: bool = True,
           stripe_js: StripeJs | None = None, **context) -> None:
    """A page in the customer's locale (`fmt` formats money and dates), with the merchant's name,
    colour and contact when it is about one of their checkouts, and a badge in test mode.
    `stripe_js`: the page loads Stripe.js and our checkout-stripe.js (the template says where)."""
    csp = csp_for(form_origins, stripe_js)
    html.render(resp, f"checkout/{template}", csp=csp, status=status,
                fmt=Formats.for_header(req.get_header("Accept-Language")), merchant=merchant,
                test_mode=not livemode, accent=accent_style(merchant.brand_color if merchant else None),
                stripe_js=stripe_js, static_route=STATIC_ROUTE, **context)


def not_available(req: falcon.Request, resp: falcon.Response) -> None:
    """One page for a link or checkout that is unknown, inactive or unsellable: nothing tells them apart."""
    render(req, resp, "link_unavailable.html", status=404)


def wait_page(req: falcon.Request, resp: falcon.Response, retry_after: int, *, title: str, what: str,
              back_url: str | None = None, back_label: str | None = None) -> None:
    """A 429 for a person: how long to wait (also in `Retry-After`), and where to go back to."""
    resp.set_header("Retry-After", str(retry_after))
    seconds = "1 second" if retry_after == 1 else f"{retry_after} seconds"
    render(req, resp, "message.html", status=429, title=title,
           message=f"{what} Please wait {seconds}, then try again.", back_url=back_url, back_label=back_label)
