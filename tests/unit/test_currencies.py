"""ISO 4217 codes and their minor-unit exponents; formatting atoms with integer arithmetic."""
import pytest

from domain import currencies


@pytest.mark.parametrize("code, exp", [("JPY", 0), ("KRW", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3),
                                       ("CLF", 4)])
def test_exponent(code, exp):
    assert currencies.exponent(code) == exp


@pytest.mark.parametrize("code", ["usd", "Usd", "XYZ", "US", "USDD", "", "XXX"])
def test_not_a_currency(code):
    assert not currencies.is_currency(code)


def test_every_code_is_three_upper_case_letters_listed_once():
    for code in currencies.EXPONENTS:
        assert len(code) == 3 and code.isascii() and code.isalpha() and code.isupper(), code
    listed = (currencies._TWO_DECIMALS + currencies._ZERO_DECIMALS + currencies._THREE_DECIMALS
              + currencies._FOUR_DECIMALS).split()
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("atoms, code, text", [
    (1999, "USD", "19.99 USD"),
    (5, "USD", "0.05 USD"),
    (0, "USD", "0.00 USD"),
    (500, "JPY", "500 JPY"),
    (1234567, "JPY", "1,234,567 JPY"),
    (1500, "KWD", "1.500 KWD"),
    (-250, "EUR", "-2.50 EUR"),
    (123456789012, "USD", "1,234,567,890.12 USD"),
])
def test_format_atoms(atoms, code, text):
    assert currencies.format_atoms(atoms, code) == text


def test_format_unknown_currency_is_an_error():
    with pytest.raises(KeyError):
        currencies.format_atoms(100, "XYZ")
