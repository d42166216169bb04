"""localstripe (PyPI) for the Stripe connector's tests, serving on the socket the fixture opened
(its file descriptor is argv[1]). Started by tests/stripe_connector/conftest.py.

It is localstripe's own aiohttp app, `localstripe.server.app`, with these changes and no others,
each because localstripe 1.15 differs from what the tests need or from Stripe:

- It serves the loopback socket the fixture bound (so no race for a free port), where
  `localstripe --port N` binds every interface (`::`).
- Its store stays in this process: localstripe pickles it to /tmp/localstripe.pickle after
  every write, a file every other run on this machine shares.
- It accepts what Stripe accepts and localstripe answers "400 Unexpected ..." to:
  `return_url` on a PaymentIntent confirmed at creation (localstripe has no redirects; its
  3-D Secure is next_action `use_stripe_sdk` and its own authenticate endpoint, so the URL is
  dropped), and a SetupIntent created with `confirm`, `payment_method` and `return_url`
  (Stripe confirms it in that same call; here localstripe's own confirm runs right after its
  own create, with the same payment method).
"""
import socket
import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None

_create_payment_intent = resources.PaymentIntent._api_create.__func__
_create_setup_intent = resources.SetupIntent._api_create.__func__


def create_payment_intent(cls, return_url=None, **data):
    return _create_payment_intent(cls, **data)


def create_setup_intent(cls, confirm=None, payment_method=None, return_url=None, **data):
    setup = _create_setup_intent(cls, **data)
    if resources.try_convert_to_bool(confirm) is True:
        return cls._api_confirm(setup.id, payment_method=payment_method)
    return setup


resources.PaymentIntent._api_create = classmethod(create_payment_intent)
resources.SetupIntent._api_create = classmethod(create_setup_intent)

if __name__ == "__main__":
    web.run_app(server.app, sock=socket.socket(fileno=int(sys.argv[1])), print=None, access_log=None)
