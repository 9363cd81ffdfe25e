"""The content spam scorer: what customers write passes and spam is quarantined (over
tests/spam_corpus.py), each signal is told in words, a reason quotes nothing of the post,
and the threshold decides."""

from __future__ import annotations

import re

import pytest
from factoryops import spam
from factoryops.spam import Verdict, assess

from tests.conftest import Configure
from tests.spam_corpus import HAM, SPAM

pytestmark = pytest.mark.unit

THRESHOLD = 5
"""SPAM_THRESHOLD's default, which the corpus is scored against."""
SPAM_CAUGHT_AT_LEAST = 0.95
COUNT = re.compile(r"[1-9]\d* links?")


def verdict(message: str, *, name: str = "Asha Rao", company: str = "") -> Verdict:
    return assess(name=name, company=company, message=message, threshold=THRESHOLD)


def explained(signal: str) -> bool:
    """Whether `signal` is of the closed grammar: a count of links, one of the module's
    fixed phrases, or a word of its vocabulary, quoted."""
    if COUNT.fullmatch(signal) or signal in spam.SIGNALS:
        return True
    return signal.startswith("'") and signal.endswith("'") and signal[1:-1] in spam.VOCABULARY


def test_the_corpus_holds_at_least_40_posts_of_each_kind_with_the_contact_forms_fields() -> None:
    for posts in (HAM, SPAM):
        assert len(posts) >= 40
        assert all(set(post) == {"name", "company", "message"} for post in posts)


def test_no_post_a_customer_wrote_is_quarantined() -> None:
    held = {
        index: (found.score, found.reason)
        for index, post in enumerate(HAM)
        if (found := assess(**post, threshold=THRESHOLD)).spam
    }
    assert not held, f"ham quarantined {len(held)}/{len(HAM)}: {held}"


def test_at_least_95_percent_of_the_spam_is_quarantined() -> None:
    missed = {
        index: (found.score, found.reason)
        for index, post in enumerate(SPAM)
        if not (found := assess(**post, threshold=THRESHOLD)).spam
    }
    rate = 1 - len(missed) / len(SPAM)
    assert rate >= SPAM_CAUGHT_AT_LEAST, (
        f"spam quarantined {len(SPAM) - len(missed)}/{len(SPAM)} ({rate:.1%}), missed: {missed}"
    )


@pytest.mark.parametrize(
    ("name", "company", "message", "signal"),
    [
        ("Asha", "", "See a.example.com, b.example.net and https://c.example.org/x", "3 links"),
        ("Asha", "", "Your invoice is ready to view: bit.ly/3xYz and pay today", "a URL shortener"),
        ("Asha", "", "https://deals.example.shop/?ref=1", "only a link"),
        ("Asha", "", "Hello https://deals.example.shop/", "only a link"),
        ("https://seo.example.net", "", "We have an offer for you.", "the name is a URL"),
        ("Visit www.example.com", "", "We have an offer for you.", "the name is a URL"),
        ("deals.example.xyz", "", "We have an offer for you.", "the name is a domain"),
        ("Asha", "https://example.com", "We have an offer for you.", "the company is a URL"),
        ("Asha", "example.in", "We have an offer for you.", "the company is a domain"),
        ("Asha", "", "We sell quality backlinks for your blog.", "'backlinks'"),
        ("Asha", "", "Can I write a guest post for your blog?", "'guest post'"),
        ("Asha", "", "Placements on high DA/DR sites.", "'DA/DR'"),
        ("Asha", "", "We get you on the first page of Google.", "'first page of Google'"),
        ("Asha", "", "Affordable SEO services for startups.", "'SEO services'"),
        ("Asha", "", "Link insertion in existing articles.", "'link insertion'"),
        ("Asha", "", "Your website looks outdated, let us help.", "'outdated website'"),
        ("Asha", "", "We do website redesign for B2B firms.", "'website redesign'"),
        ("Asha", "", "Buy the attendee list of the expo.", "'attendee list'"),
        ("Asha", "", "A list of 2 million decision makers.", "'lead list'"),
        ("Asha", "", "Invest in crypto today.", "'crypto'"),
        ("Asha", "", "Deposit USDT and withdraw weekly.", "'USDT'"),
        ("Asha", "", "Claim the airdrop before Friday.", "'airdrop'"),
        ("Asha", "", "Join our forex signals group.", "'trading signals'"),
        ("Asha", "", "Get a personal loan in minutes.", "'personal loan'"),
        ("Asha", "", "Instant approval, minimum documents.", "'instant approval'"),
        ("Asha", "", "India's favourite online casino.", "'casino'"),
        ("Asha", "", "IPL betting tips every day.", "'betting tips'"),
        ("Asha", "", "Hot singles in your area.", "'hot singles'"),
        ("Asha", "", "Medicines without prescription.", "'without prescription'"),
        ("Asha", "", "Hire dedicated developers at low cost.", "'hire developers'"),
        ("Asha", "", "Reply STOP to opt out of these messages.", "'reply STOP'"),
        ("Asha", "", "To unsubscribe from these emails, write to us.", "'unsubscribe'"),
        ("Asha", "", "Your domain is expiring: renew your domain today.", "'domain expiring'"),
        ("Asha", "", "Your mailbox is full, messages will be deleted.", "'mailbox full'"),
        ("Asha", "", "We send your ad to 2 million contact forms.", "'contact form ads'"),
        ("Asha", "", "Привет! Продвижение сайтов в поисковиках, быстро.", "Cyrillic text"),
        ("Asha", "", "您好\uff0c我们提供网站优化服务\uff0c价格优惠\u3002", "CJK text"),
        ("Asha", "", "Cheap c\u0430sin\u043e bonus for new players.", "a word of mixed alphabets"),
        (
            "Asha",
            "",
            "PLEASE SEND THE PRICE LIST FOR YOUR SYSTEM TODAY, URGENT.",
            "mostly capitals",
        ),
    ],
)
def test_each_signal_is_told_in_words(name: str, company: str, message: str, signal: str) -> None:
    found = assess(name=name, company=company, message=message, threshold=THRESHOLD)
    assert signal in found.signals, found.signals
    assert all(explained(each) for each in found.signals), found.signals


def test_a_single_link_to_the_senders_own_site_does_not_quarantine() -> None:
    found = verdict("We make castings, our site is https://www.acme-castings.in - please call.")
    assert found.signals == ("1 link",)
    assert not found.spam


def test_two_links_the_senders_site_and_a_datasheet_do_not_quarantine() -> None:
    found = verdict(
        "Our site: www.acme-castings.in. The sensor's datasheet:"
        " https://acme-castings.in/docs/VS-200.pdf. Can you read 4-20 mA?"
    )
    assert found.signals == ("2 links",)
    assert not found.spam


def test_several_links_weigh_and_five_quarantine_alone() -> None:
    links = [f"https://site{n}.example.com/page" for n in range(6)]
    assert verdict("See " + " ".join(links[:3]) + " for our products.").score == 3
    assert verdict("See " + " ".join(links[:5]) + " for our products.").spam
    assert verdict("See " + " ".join(links) + " for our products.").score == spam.LINKS_MOST


def test_an_email_address_is_no_link() -> None:
    assert verdict("Write to me at ravi.shankar@jsw.in or rk@plant.co.in please.").signals == ()


@pytest.mark.parametrize(
    "message",
    [
        "Please issue a credit note for the unused training days.",
        "Our terms are 30 days credit from the date of invoice.",
        "We are a trading company supplying spares to cement plants.",
        "We have a Profinet data link between the PLC and the robot, and a PLC link to SCADA.",
        "The unit was loaned to us by the OEM for the trial.",
        "Security will arrange a visitor escort at the main gate.",
        "Part 11 means no back-dating of entries.",
        "Our pre-sales team will join the call.",
        "Site traffic at the weighbridge peaks in the morning.",
        "Can you send your most competitive price for 3 lines?",
        "I came across your website while looking for OEE tools.",
        "Do you offer a free trial or a free audit of our compressors?",
    ],
)
def test_what_plant_vocabulary_shares_with_spam_counts_little(message: str) -> None:
    found = verdict(message, company="Escorts Kubota Ltd", name="Seo-yeon Kim")
    assert found.score <= spam.HINT, found.signals


def test_words_in_bold_letters_or_split_by_invisible_characters_are_still_read() -> None:
    bold = "".join(chr(0x1D41A + ord(c) - ord("a")) for c in "backlinks")
    assert "'backlinks'" in verdict(f"Buy {bold} now").signals
    assert "'backlinks'" in verdict("Buy back\u200blinks now").signals
    assert "'casino'" in verdict("Best c\u0430sin\u043e in town").signals


def test_no_signal_in_the_corpus_quotes_the_post_only_counts_and_the_modules_own_words() -> None:
    for post in HAM + SPAM:
        found = assess(**post, threshold=THRESHOLD)
        assert all(explained(signal) for signal in found.signals), (post["name"], found.signals)
        assert found.reason == ", ".join(found.signals)


def test_the_vocabulary_holds_no_address() -> None:
    for word in spam.VOCABULARY | spam.SIGNALS:
        assert not re.search(r"://|www\.|@|\.[a-z]{2,}\b", word), word


def test_the_reason_joins_whole_signals_up_to_200_characters() -> None:
    signals = tuple(f"'{word}'" for word in sorted(spam.VOCABULARY))
    reason = Verdict(score=99, signals=signals, threshold=THRESHOLD).reason
    assert 150 < len(reason) <= spam.REASON_MAX
    assert reason == ", ".join(signals[: reason.count(", ") + 1])
    assert Verdict(score=0, signals=(), threshold=THRESHOLD).reason == ""


def test_the_threshold_given_decides_whether_a_post_is_spam() -> None:
    message = "See https://a.example.com and https://b.example.com and https://c.example.com"
    score = verdict(message).score
    assert assess(name="Asha", company="", message=message, threshold=score).spam
    assert not assess(name="Asha", company="", message=message, threshold=score + 1).spam


def test_without_a_threshold_spam_threshold_decides(configure: Configure) -> None:
    message = "Our site https://a.example.com and our datasheet https://a.example.com/d.pdf"
    found = assess(name="Asha", company="", message=message)
    assert (found.threshold, found.spam) == (THRESHOLD, False)
    configure(SPAM_THRESHOLD="2")
    found = assess(name="Asha", company="", message=message)
    assert (found.threshold, found.spam) == (2, True)
