from falcon import testing

from api.client_ip import client_ip


def req(remote_addr="10.0.0.2", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return testing.create_req(remote_addr=remote_addr, headers=headers)


def test_peer_address_without_proxies():
    assert client_ip(req("192.0.2.10"), 0) == "192.0.2.10"


def test_forwarded_for_is_ignored_without_trusted_proxies():
    assert client_ip(req("192.0.2.10", "203.0.113.7"), 0) == "192.0.2.10"


def test_one_trusted_proxy_takes_the_rightmost_entry():
    # the client wrote 1.1.1.1 itself; our proxy appended the peer it saw
    assert client_ip(req(forwarded="1.1.1.1, 203.0.113.7"), 1) == "203.0.113.7"


def test_two_trusted_proxies_take_the_second_from_the_right():
    assert client_ip(req(forwarded="1.1.1.1, 203.0.113.7, 10.1.1.1"), 2) == "203.0.113.7"


def test_entries_are_stripped():
    assert client_ip(req(forwarded=" 203.0.113.7 ,  10.1.1.1 "), 2) == "203.0.113.7"


def test_fewer_entries_than_proxies_falls_back_to_peer():
    assert client_ip(req("192.0.2.10", "203.0.113.7"), 2) == "192.0.2.10"


def test_missing_or_empty_header_falls_back_to_peer():
    assert client_ip(req("192.0.2.10"), 1) == "192.0.2.10"
    assert client_ip(req("192.0.2.10", "  "), 1) == "192.0.2.10"


def test_garbage_entry_falls_back_to_peer():
    for garbage in ("unknown", "203.0.113.7:8080", "not an ip", "", "999.1.1.1", "<script>"):
        assert client_ip(req("192.0.2.10", f"1.1.1.1, {garbage}"), 1) == "192.0.2.10", garbage


def test_garbage_left_of_the_vouched_entry_does_not_matter():
    assert client_ip(req(forwarded="evil, 203.0.113.7"), 1) == "203.0.113.7"


def test_ipv6_is_bucketed_by_its_64():
    first = client_ip(req(forwarded="2001:DB8:0:42:aaaa::1"), 1)
    rotated = client_ip(req(forwarded="2001:db8:0:42:ffff:1:2:3"), 1)
    assert first == rotated == "2001:db8:0:42::/64"
    assert client_ip(req(forwarded="2001:db8:0:43::1"), 1) == "2001:db8:0:43::/64"


def test_ipv6_peer_is_bucketed_too():
    assert client_ip(req("2001:db8::5"), 0) == "2001:db8::/64"


def test_ipv4_mapped_ipv6_is_the_ipv4_address():
    # bucketing ::ffff:a.b.c.d by /64 would put every IPv4 client in one bucket
    assert client_ip(req("::ffff:192.0.2.10"), 0) == "192.0.2.10"
    assert client_ip(req(forwarded="::ffff:203.0.113.7"), 1) == "203.0.113.7"
