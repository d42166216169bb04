"""Field rules shared by several objects (domain/rules.py): each rejection names its param."""
import pytest

from domain import rules
from domain.errors import InvalidRequest


def rejected(call, *args, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call(*args, **kwargs)
    return caught.value


class TestText:
    def test_accepts_up_to_the_limit(self):
        rules.require_text("a" * 255, "name")

    def test_required_missing(self):
        error = rejected(rules.require_text, None, "name")
        assert (error.param, error.code) == ("name", "parameter_missing")

    def test_optional_missing_is_fine(self):
        rules.require_text(None, "description", required=False)

    @pytest.mark.parametrize("value", ["", "   "])
    def test_required_blank(self, value):
        assert rejected(rules.require_text, value, "name").param == "name"

    def test_too_long(self):
        assert rejected(rules.require_text, "a" * 256, "name").param == "name"
        assert rejected(rules.require_text, "a" * 11, "description", 10, required=False).param == "description"

    def test_nul_character(self):
        assert rejected(rules.require_text, "a\x00b", "name").param == "name"


class TestCurrency:
    @pytest.mark.parametrize("code", ["USD", "JPY", "KWD", "EUR"])
    def test_known(self, code):
        assert rules.require_currency(code) == code

    @pytest.mark.parametrize("code", ["usd", "XYZ", "US", "USDD", ""])
    def test_unknown_or_not_upper_case(self, code):
        assert rejected(rules.require_currency, code).param == "currency"

    def test_missing(self):
        error = rejected(rules.require_currency, None, "line_currency")
        assert (error.param, error.code) == ("line_currency", "parameter_missing")


class TestAmounts:
    def test_bounds(self):
        rules.require_amount(0, "unit_amount_atom")
        rules.require_amount(rules.MAX_AMOUNT_ATOM, "unit_amount_atom")
        assert rejected(rules.require_amount, -1, "unit_amount_atom").param == "unit_amount_atom"
        assert rejected(rules.require_amount, rules.MAX_AMOUNT_ATOM + 1, "unit_amount_atom").param == "unit_amount_atom"

    def test_minimum(self):
        rules.require_amount(1, "amount_off_atom", minimum=1)
        assert rejected(rules.require_amount, 0, "amount_off_atom", minimum=1).param == "amount_off_atom"

    def test_int_range(self):
        rules.require_int_range(1, "quantity", 1, 999)
        rules.require_int_range(999, "quantity", 1, 999)
        assert rejected(rules.require_int_range, 0, "quantity", 1, 999).param == "quantity"
        assert rejected(rules.require_int_range, 1000, "quantity", 1, 999).param == "quantity"


class TestMetadata:
    def test_none_is_empty(self):
        assert rules.require_metadata(None) == {}

    def test_at_the_limits(self):
        metadata = {f"k{i:02d}": "v" for i in range(50)}
        assert rules.require_metadata(metadata) == metadata
        rules.require_metadata({"k" * 40: "v"})
        rules.require_metadata({"k": "v" * (8 * 1024 - len('{"k":""}'))})

    def test_too_many_keys(self):
        assert rejected(rules.require_metadata, {f"k{i}": 1 for i in range(51)}).param == "metadata"

    def test_key_too_long_names_the_key(self):
        error = rejected(rules.require_metadata, {"ok": 1, "k" * 41: 1})
        assert error.param == "metadata." + "k" * 40

    def test_empty_key_names_the_object(self):
        error = rejected(rules.require_metadata, {"": 1})
        assert (error.param, error.message) == ("metadata", "metadata keys must be 1 to 40 characters")

    def test_too_big(self):
        assert rejected(rules.require_metadata, {"k": "v" * (8 * 1024)}).param == "metadata"

    def test_size_counts_utf8_bytes(self):
        # 3000 characters of 3 bytes each: under 8 KiB in characters, over it in bytes.
        assert rejected(rules.require_metadata, {"k": "€" * 3000}).param == "metadata"

    @pytest.mark.parametrize("metadata", [{"k": "a\x00"}, {"a\x00": "v"}, {"k": {"nested": "\x00"}}])
    def test_nul_anywhere(self, metadata):
        assert rejected(rules.require_metadata, metadata).param == "metadata"

    def test_param_prefix(self):
        assert rejected(rules.require_metadata, {"k" * 41: 1}, "line_items[0].metadata").param.startswith(
            "line_items[0].metadata.")


class TestUrl:
    @pytest.mark.parametrize("url", [None, "https://example.com/done", "http://localhost:8000/x?y=1",
                                     "HTTPS://Example.com", "http://user@shop.example/x#top", "https://[::1]:8443/",
                                     "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"])
    def test_accepted(self, url):
        rules.require_url(url, "success_url")

    @pytest.mark.parametrize("url", ["example.com", "ftp://example.com", "javascript:alert(1)", "https://",
                                     "https://exa mple.com", "/relative", "https://[::1", "http://host:port/",
                                     "http://@/", "https://example.com/\n", "https://example.com/a\x00",
                                     "https://example.com/\x85", "https://exa\x1fmple.com"])
    def test_rejected(self, url):
        assert rejected(rules.require_url, url, "success_url").param == "success_url"

    def test_too_long(self):
        url = "https://example.com/" + "a" * 2048
        assert rejected(rules.require_url, url, "return_url").param == "return_url"


class TestEmail:
    @pytest.mark.parametrize("email", ["a@example.com", "first.last+tag@sub.example.co.uk"])
    def test_accepted(self, email):
        rules.require_email(email)

    @pytest.mark.parametrize("email", ["", "nobody", "a@b", "@example.com", "a@@example.com", "a b@example.com",
                                       "a@example.com\n", "a\x1e@example.com", "a@exa\u3000mple.com"])
    def test_rejected(self, email):
        assert rejected(rules.require_email, email).param == "email"

    def test_too_long(self):
        assert rejected(rules.require_email, "a" * 510 + "@example.com").param == "email"


def test_unique_names_the_first_repeat():
    rules.require_unique(["a", "b", "c"], "price_ids")
    assert rejected(rules.require_unique, ["a", "b", "a", "b"], "price_ids").param == "price_ids[2]"


def test_whitespace_is_what_python_strips():
    """The patterns /openapi.json states spell whitespace out (JSON Schema's \\s is not Python's)."""
    import re
    import sys

    spelled = re.compile(f"[{rules.WHITESPACE}]")
    assert [c for c in range(sys.maxunicode + 1) if spelled.match(chr(c))] == \
        [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert rejected(rules.require_text, "\x1e\u3000", "name").message == "name must not be empty"
