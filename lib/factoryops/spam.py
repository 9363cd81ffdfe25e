"""Content spam: the score a contact post's words earn, and the signals that earned it.

A post whose score reaches SPAM_THRESHOLD is quarantined: held for the team in the
console, never emailed, even when the visitor's browser solved the proof of work
(proof.py), since much form spam is typed or pasted by people, whose browsers solve it
like anyone's. The signals are what form-spam services report: links (one weighs little,
several weigh), URL shorteners, a name that is a URL, a message that is only a link, and
the vocabulary of the trades that send it (link building, web redesign, lead lists,
outsourcing, crypto, loans, betting, adult sites, fake invoices and account notices,
lotteries and advance-fee frauds), with a few habits of bulk senders (an opt-out line in a
first message, shouting, another alphabet's SEO spam, look-alike letters).

What plant engineers and buyers write must pass, so the vocabulary is mostly phrases,
each weighed by how rarely a customer writes it: the words plants share with spam
("credit note", "trading company", "data link", "on loan", "pre-sales") do not match
or count little, and a single link (the sender's own site) never quarantines alone.

Each signal is explained in words the team reads ("3 links", "'backlinks'"): a count,
or the word of this module's own vocabulary that matched, never the visitor's text or
an address from it, so a reason is safe to show in the console.

Standard library only, the patterns compiled once at import: the contact function
imports this on its cold start.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from factoryops.config import settings

REASON_MAX = 200
"""Characters of a verdict's `reason` at most."""

# -- weights --------------------------------------------------------------------------
# The default SPAM_THRESHOLD is 5: a giveaway alone, or a few lesser signals together.

GIVEAWAY = 5  # a phrase no customer writes ("backlinks", "online casino"): alone, it quarantines
STRONG = 3  # a spam trade's word that a customer almost never writes ("SEO", "bitcoin")
CLUE = 2  # leans to spam, though a customer may write it ("working capital", "click here")
HINT = 1  # common in spam and common enough elsewhere to count little ("loan", "affordable")

LINK = 1  # each link in the message: the sender's own site, a datasheet, are normal
LINKS_MOST = 5  # links count up to this: five links alone quarantine
SHORTENER = 3  # a URL shortener hides where a link goes (and the link counts too)
ONLY_LINK = 4  # a link with at most ONLY_LINK_WORDS words: nothing asked, nothing said
ONLY_LINK_WORDS = 3
NAME_URL = 5  # a name that is a URL: nobody is called https://...
NAME_DOMAIN = 3  # a name that holds a domain, which a person might add after their name
COMPANY_URL = 3  # a company given as a URL
COMPANY_DOMAIN = 1  # a company given as a domain: some companies go by theirs
OTHER_SCRIPT = 3  # Cyrillic or CJK text in a form the site asks in English
MIXED_SCRIPT = 3  # a word of Latin and Cyrillic letters: a filter dodged by look-alikes
SHOUTING = 2  # a message mostly in capitals (some people write so, hence little weight)

SHOUTING_LETTERS = 40  # cased letters a message needs before shouting is judged
SHOUTING_SHARE = 0.75  # the share of them in capitals that makes shouting
OTHER_SCRIPT_SHARE = 0.3  # the share of a message's letters in Cyrillic or CJK

# -- links ----------------------------------------------------------------------------

SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "v.gd",
        "cutt.ly",
        "rb.gy",
        "shorturl.at",
        "tiny.cc",
        "t.ly",
        "buff.ly",
        "rebrand.ly",
        "s.id",
        "clck.ru",
        "tiny.one",
        "shorte.st",
        "adf.ly",
        "bl.ink",
    }
)
# Top-level domains a bare domain (no scheme, no www.) is recognised by: the common and
# the cheap ones spam is hosted on. Words that are also English or plant shorthand (it,
# is, to, me, us, do) are left out: "do.it" or "call.me" is no link.
_TLDS = (
    "com|net|org|info|biz|io|ai|co|in|uk|de|eu|fr|es|nl|ru|su|cn|ly|gl|gd|gy|cc|tk|ws|"
    "xyz|top|site|online|store|shop|live|bet|casino|loan|click|link|help|pro|app|dev|tech|"
    "club|vip|win|fun|icu|buzz|cloud|agency|digital|media|website|space|life|today|world"
)
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOT = r"(?:\.|\[\.\]|\(\.\)|\[dot\]|\(dot\))"  # "example[.]com" dodges link filters
_SHORTENER_HOSTS = "|".join(re.escape(host) for host in sorted(SHORTENERS))
_URL_TAIL = r"""(?:[/?#][^\s<>"']*)?"""
# Read in lower-case text. A link starts a word, and not right after a spelled-out dot:
# tried at every letter inside one too (or after each "(.)" of "a(.)a(.)a(.)..."), the
# search would take time that grows with the square of the text.
_LINK = re.compile(
    r"(?<![\w@.-])(?<!\(\.\))(?<!\[\.\])(?<!\[dot\])(?<!\(dot\))(?:"
    rf"""(?:https?|ftp)://[^\s<>"']+"""
    rf"""|www{_DOT}[^\s<>"']+"""
    rf"|(?:{_SHORTENER_HOSTS}){_URL_TAIL}(?![\w-])"
    # A bare domain; the .NET of programmers is none.
    rf"|(?!(?:asp|vb|ado){_DOT}net\b)(?:{_HOST_LABEL}{_DOT})+(?:{_TLDS})(?![\w-]){_URL_TAIL}"
    ")"
)
_SCHEMED = re.compile(r"(?:https?|ftp)://|www\.")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HOST = re.compile(r"^(?:[a-z]+://)?(?:www\.)?([^/?#:\s]+)")
_DOT_SPELLED = re.compile(r"\[\.\]|\(\.\)|\[dot\]|\(dot\)")

# -- text -----------------------------------------------------------------------------

_LETTERS = re.compile(r"[^\W\d_]+")
# Invisible characters that split a word for a filter and not for a reader: zero-width
# spaces and joiners, bidi marks, word joiners, the soft hyphen and the byte-order mark.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Cyrillic letters that look Latin, and the Latin ones they pass for.
_LOOKALIKES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455"
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0406\u0408\u0405",
    "aeopcyxijsABEKMHOPCTXYIJS",
)
_MIXED_WORD = re.compile(
    r"(?<![^\W\d_])(?=[^\W\d_]*[a-z])(?=[^\W\d_]*[\u0400-\u04ff])[^\W\d_]+", re.IGNORECASE
)
_SPACES = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_Q = r"""['"]?"""  # an optional quote around a word someone is told to reply with
_RU = r"[\u0430-\u044f\u0451]"  # a lower-case Cyrillic letter


def _ru(stem: str) -> str:
    """A Russian word by its stem, with any ending."""
    return rf"{stem}{_RU}*"


# -- vocabulary -----------------------------------------------------------------------
# Each entry: the label shown to the team (quoted) and the pattern, in lower case, matched
# on word boundaries in the text made lower case. Within a tier, longer phrases come
# before the words they contain, so that "crypto wallet" is one signal, not two.

_GIVEAWAYS: dict[str, str] = {
    # link building and SEO
    "backlinks": r"back[- ]?links?",
    "guest post": r"guest[- ]?post(?:s|ing)?",
    "link insertion": r"link[- ]insertions?",
    "link building": r"link[- ]building",
    "do-follow": r"do[- ]?follow",
    "domain authority": r"domain authority|domain rating",
    "PBN": r"private blog networks?",
    "niche edits": r"niche[- ]edits?",
    "sponsored post": r"sponsored (?:posts?|articles?)",
    "permanent links": r"(?:permanent|contextual|high[- ]authority|do-?follow|niche) links|"
    r"link (?:exchanges?|swaps?|placements?)|write for us",
    "article placement": r"(?:article|content|press release) (?:placements?|distribution)|"
    r"paid (?:articles?|placements?)",
    "first page of Google": r"(?:first|1st|top|front) (?:page|position|spot)s? (?:of|on|in) "
    r"google|(?:page (?:one|1)|the top) of google|google'?s? (?:first|1st|front) page",
    "not ranking": r"(?:web ?site|site|homepage) (?:isn't|is not|wasn't|doesn't|does not) "
    r"(?:rank(?:ing)?|(?:show(?:ing)? up|appear(?:ing)?) (?:on|in) (?:google|search))",
    "free website audit": r"free (?:website|site|seo|marketing|digital) (?:audit|analysis|"
    r"report|review)",
    "local 3-pack": r"local (?:3|three)[- ]pack|optimi[sz]e your (?:google |business )?"
    r"listing|(?:google|business) listing",
    "5-star reviews": r"(?:\d|five)[- ]star (?:google )?reviews",
    "followers and likes": r"(?:real|genuine|active|organic|targeted|instagram|youtube|"
    r"tiktok|facebook) (?:followers|likes|subscribers|views)|\d+k (?:followers|likes|"
    r"subscribers|views)|followers and likes",
    "Wikipedia page": r"wikipedia (?:page|article|profile) (?:creation|for your)",
    "domain expiring": r"domain (?:name )?(?:is |will be )?(?:expiring|expires|expired)|"
    r"renew your domain|search engine (?:listing|submission|registration)",
    "premium domain": r"premium domains?|domain (?:name )?(?:is )?(?:now )?(?:available|up) "
    r"for (?:sale|purchase)",
    "продвижение": _ru("продвижени"),  # promotion (of sites)
    "прогон": _ru("прогон"),  # a site run through link lists
    "раскрутка": _ru("раскрутк"),  # promotion
    "вечные ссылки": f"{_ru('вечн')} {_ru('ссыл')}",  # permanent links
    # web design
    "website redesign": r"(?:web ?site|web) re-?design(?:s|ing)?|re-?design(?:ed|ing)? "
    r"(?:of )?(?:your|the) (?:web ?site|site|homepage)|redesigned \d+\+? (?:web ?)?sites",
    "web design agency": r"web(?:site)? design(?:ing)? (?:agency|company|firm|services?|"
    r"packages?)",
    "outdated website": r"(?:web ?site|site|homepage) (?:looks|is|seems|feels) (?:a bit |a "
    r"little |quite |very |really |rather )?(?:outdated|old-fashioned|dated)",
    "dear business owner": r"dear (?:business|website|site|shop) owner",
    # lead lists, bought meetings, form spam selling itself
    "attendee list": r"(?:attendees?|exhibitors?|delegates?) (?:lists?|data ?bases?|"
    r"contacts?)",
    "verified contacts": r"verified (?:contacts?|e-?mails?|e-?mail addresses|leads|"
    r"decision[- ]makers|prospects|records|data ?bases?|data)",
    "direct dials": r"direct[- ]dials?",
    "lead list": r"(?:leads?|prospects?|b2b) (?:lists?|data ?bases?)|(?:list|data ?base|"
    r"contacts) of (?:[\w&,.-]+ ){0,5}?decision[- ]makers|decision[- ]makers'? (?:contacts|"
    r"e-?mails|data ?base|list)",
    "qualified meetings": r"(?:qualified|booked) (?:sales )?(?:meetings|appointments|"
    r"calls)|appointment setting",
    "contact form ads": r"(?:send|sent|deliver|blast)\w* [\w ]{0,30}?to [\w ,.]{0,30}?"
    r"(?:contact|feedback) forms|(?:contact|feedback)[- ]form (?:blasting|marketing|"
    r"advertising|ads)",
    "bulk messaging": r"bulk (?:whatsapp|sms|e-?mail) (?:marketing|sender|software|"
    r"campaigns?|services?)",
    # outsourcing
    "hire developers": r"hire (?:dedicated |remote |offshore |expert |top )?(?:\w+ )?"
    r"(?:developers|programmers)|offshore (?:software )?development|software outsourcing|"
    r"outsource (?:your|the) (?:software|development|app|it|coding)",
    "clone app": r"clone (?:apps?|scripts?)|(?:app|platform) like (?:uber|zomato|swiggy|"
    r"airbnb|tinder|netflix)|(?:uber|zomato|swiggy|airbnb) clone",
    "essay writing": r"(?:essay|assignment|dissertation|homework) (?:writing|help)",
    # crypto and get-rich offers
    "USDT": r"usdt|trc-?20|erc-?20",
    "airdrop": r"air[- ]?drops?",
    "crypto wallet": r"(?:crypto|bitcoin|btc|usdt|web3|metamask|trust) wallets?|wallet "
    r"address|connect (?:your )?wallet|seed phrase",
    "trading signals": r"(?:trading|forex|crypto|vip) signals?",
    "binary options": r"binary options?",
    "guaranteed returns": r"guaranteed (?:\d+ ?[x%] )?(?:daily |weekly |monthly )?"
    r"(?:returns?|profits?|income)|(?:returns?|profits?|roi) of \d+ ?% (?:daily|weekly|"
    r"monthly|per (?:day|week|month))|\d+ ?% (?:daily|weekly|monthly) (?:returns?|profits?)|"
    r"(?:earn|get|make|gain) (?:up to )?\d+ ?% (?:daily|weekly|every (?:day|week)|a (?:day|"
    r"week)|per (?:day|week))",
    "crypto investment": r"(?:crypto|bitcoin|btc) (?:investments?|mining|trading|fund)|"
    r"cloud mining|token pre-?sale|copy[- ]trading",
    "passive income": r"passive income|(?:make|earn) money (?:online|from home)",
    "работа на дому": f"{_ru('работ')} на дому",  # work from home
    # loans
    "instant approval": r"instant(?:ly)? approv(?:al|ed)|(?:business|company|you) (?:has|"
    r"have) been pre-?(?:approved|qualified)|approved for (?:up to )?(?:a )?(?:\$|₹|rs\.? ?|"
    r"inr ?|usd ?)\d[\d,.]*k?",
    "personal loan": r"(?:personal|instant|quick|easy|payday|unsecured|sba) loans?|loan "
    r"offers?",
    "merchant cash advance": r"merchant cash advances?",
    "no credit check": r"no credit checks?(?: required)?",
    # betting and casinos
    "casino": rf"casinos?|{_ru('казино')}",
    "free spins": rf"free ?spins?|{_ru('фриспин')}",
    "betting tips": r"(?:ipl|cricket|sports|online|football|live) betting|betting "
    r"(?:tips|apps?|sites?|ids?)|sports?books?|bookmakers?",
    "satta matka": r"satta|matka",
    "fixed match": r"fix(?:ed)? (?:match|matches|game)",
    "welcome bonus": r"(?:welcome|deposit|signup|sign-up|sign up|first deposit) bonus|"
    r"free bets?|on your first deposit",
    "slot machines": r"slot (?:machines?|games?)|online slots",
    "1xbet": r"1xbet|1win|parimatch|dafabet|mostbet|aviator game",
    # adult and pharmacy
    "hot singles": r"(?:hot|sexy|lonely) (?:singles|girls|women|ladies)|(?:singles|women|"
    r"girls|ladies) (?:in|near) (?:your area|you)",
    "dating site": r"(?:dating|hook-?up) (?:sites?|apps?|profiles?)|adult dating",
    "adult content": r"adult (?:content|videos?|sites?|chat|entertainment)|nsfw",
    "escort service": r"escort (?:services?|girls?|agency)|call girls?",
    "viagra": r"viagra",
    "cialis": r"cialis|levitra",
    "without prescription": r"(?:without|no) (?:a )?prescription|no doctor(?:'s)? (?:needed|"
    r"visit|required)|tramadol|xanax|oxycodone|valium",
    "keto gummies": r"keto (?:gummies|pills|diet pills)|diet pills|replica (?:watches|bags)",
    # frauds and prizes
    "next of kin": r"next of kin|unclaimed (?:funds?|inheritance)|(?:inheritance|beneficiary) "
    r"funds?|consignment box|fund recovery|recover (?:your )?(?:lost|stolen) (?:funds|crypto)",
    "lottery win": r"(?:e-?mail|address|number|ticket) (?:address )?has won|"
    r"(?:online|international|mega) lotter(?:y|ies)",
    "cash prize": r"cash prizes?|lucky winners?|gift cards?|(?:claim|collect|redeem) "
    r"(?:your |the )?(?:prize|reward|winnings)",
    # bulk senders
    "reply STOP": rf"(?:reply|respond|text|type|write back)(?: with)? {_Q}(?:stop|remove|"
    rf"unsubscribe){_Q}(?![a-z])",
}

_STRONG: dict[str, str] = {
    # SEO and marketing
    "SEO": r"search engine optimi[sz]ation",
    # Not "site traffic": at a plant, that is trucks.
    "organic traffic": r"organic (?:traffic|reach|rankings?)|web ?site traffic|more "
    r"(?:web ?site |web )?traffic to your",
    "keyword rankings": r"(?:keyword|search|google|serp) rankings?|rank(?:ing)? higher|"
    r"outrank(?:s|ing|ed)?",
    "Google Business Profile": r"google (?:my )?business(?: profile| listing)?",
    "Google reviews": r"google reviews",
    "meta tags": r"meta (?:descriptions?|tags?|titles?)",
    "digital marketing": r"digital marketing|social media (?:marketing|management|growth)|"
    r"(?:ppc|google ads) (?:campaigns?|management)",
    # Not "PPC" alone: in a cement plant, that is Portland pozzolana cement.
    "PPC": r"ppc (?:ads|campaigns?|advertising|management|services)|pay[- ]per[- ]click|"
    r"content marketing|performance marketing",
    "lead generation": r"lead[- ]gen(?:eration)?|(?:generate|more|qualified|quality|b2b) "
    r"leads",
    "visitors into leads": r"(?:convert|turn)\w* (?:your )?(?:web ?site )?(?:visitors|"
    r"traffic) into (?:leads|customers|sales|buyers)",
    "double your conversions": r"(?:double|triple|boost|increase) your (?:conversions?|"
    r"conversion rate|sales|revenue|leads)",
    "companies like yours": r"(?:companies|businesses|brands|firms) like yours",
    "guaranteed results": r"guaranteed (?:results|rankings?|traffic|leads)|results "
    r"guaranteed",
    "explainer video": r"(?:animated |whiteboard )?explainer videos?|animated videos?",
    "content writing": r"(?:content|article|blog|seo) writing services?|graphic design "
    r"services?|logo design",
    "bulk WhatsApp": r"bulk (?:whatsapp|e-?mails?)",
    "Яндекс": _ru("яндекс"),
    # web design and outsourcing
    "web design": r"web(?:site)? design(?:ing|er|ers)?",
    "WordPress": r"wordpress|shopify|wix",
    "website losing customers": r"(?:web ?site|site) is losing (?:customers|sales|leads|"
    r"money|visitors)",
    "video audit": r"video (?:audit|walkthrough)",
    "fix it for $": r"fix (?:it|them|all of them|these|everything) for (?:just |only )?"
    r"(?:\$|usd ?|rs\.? ?|₹)\d[\d,.]*",
    "ADA lawsuit": r"(?:ada|wcag) (?:rules|compliance|lawsuits?|violations?)",
    "IT company": r"(?:leading|iso[- ]certified|award[- ]winning|top[- ]rated) (?:it|"
    r"software|web|digital|app) (?:company|firm|agency|solutions? provider)",
    "scale your team": r"scale your (?:engineering |development |dev |tech )?team",
    "pre-vetted developers": r"(?:pre-?screened|pre-?vetted) (?:[\w,]+ ){0,4}?(?:developers|"
    r"engineers|candidates|talent)",
    "staff augmentation": r"staff augmentation|virtual (?:accounting|bookkeeping) team",
    "sell your business": r"(?:sell|selling) your (?:business|company|website)|buy your "
    r"(?:business|company|website)",
    # money
    "crypto": r"crypto(?:currenc(?:y|ies))?|cryptos",
    "bitcoin": r"bitcoins?",
    "ethereum": r"ethereum",
    "forex": r"forex",
    "made 300%": r"made \d+ ?% (?:last|this|in a|in one|every) (?:week|month|day)",
    "bad credit": r"bad credit|credit scores?|credit repair",
    "заработок": _ru("заработ"),  # earnings
    # other trades
    "cheap flights": r"cheap (?:flights|hotels?|air ?tickets)|hotel deals|travel deals",
    "meds online": r"meds online|(?:buy|order) (?:meds|medicines|pills) online",
    "serious relationship": r"(?:hello|hi|hey) (?:handsome|sweetie|darling)|serious "
    r"relationship|looking for (?:true )?love",
    "mailbox full": r"(?:mailbox|storage|inbox|e-?mail account) (?:is |are )?(?:full|almost "
    r"full|over quota)|messages will be deleted|upgrade your (?:storage|mailbox)",
    # bulk senders
    "unsubscribe": r"unsubscribe|to be removed from|remove you from (?:our|the|my|this) "
    r"list",
    "reply YES": rf"reply {_Q}yes{_Q} to (?:claim|get|receive|start|confirm|accept)",
    "reply interested": rf"reply (?:with )?{_Q}(?:interested|yes please){_Q}(?![a-z])",
    "limited time offer": r"limited[- ]time (?:offer|deal|only)|offer (?:ends|expires) "
    r"(?:soon|today|tonight)",
}

_CLUES: dict[str, str] = {
    # marketing, web, outsourcing
    "errors on your website": r"(?:errors|issues|problems|mistakes|bugs) (?:on|with|in) "
    r"your (?:web ?site|site|homepage)|slow[- ]loading|loading speed|page speed",
    "mobile-friendly": r"(?:not|isn't|is not) (?:fully )?(?:mobile[- ]friendly|responsive)",
    "accessibility issues": r"accessibility (?:issues|problems|errors)",
    "app development": r"(?:mobile |web |android |ios )?app(?:lication)? development|web "
    r"development|custom software development|software development (?:company|services|"
    r"agency)",
    "dedicated developers": r"(?:dedicated|offshore) (?:\w+ )?(?:developers|programmers)",
    "cheaper than in-house": r"(?:less|cheaper) than (?:an? )?(?:in-?house|local) (?:staff|"
    r"team|hire|employees?)",
    "virtual assistant": r"virtual assistants?",
    "bookkeeping": r"bookkeeping|payroll (?:services|outsourcing|processing)|tax filing",
    "white label": r"white[- ]label(?:ed|led)?",
    "our portfolio": r"check (?:out )?our (?:work|portfolio)|see our portfolio",
    "Amazon seller services": r"amazon (?:store|seller|sales|listings?|ppc|account "
    r"management)|(?:etsy|shopify|ebay) (?:store|sales)",
    "free strategy session": r"free strategy (?:session|call)",
    "email list": r"e-?mail (?:lists?|data ?bases?)|mailing lists?",
    "contact details for sale": r"(?:mobile|phone|contact) numbers and e-?mails|e-?mails and "
    r"(?:mobile|phone) numbers",
    "cold outreach": r"cold (?:outreach|e-?mail(?:ing|s)?|calling)",
    "ссылки": _ru("ссыл"),  # links: a Russian buyer may give one too
    # money
    "wallet": r"wallets?",
    "trading bot": r"(?:trading|ai trading) (?:bots?|platform|account)",
    "digital tokens": r"digital tokens?|gold-backed",
    "investment opportunity": r"investment opportunit(?:y|ies)",
    # "We made $4,800 last week"; but a plant may "make ₹12 per piece".
    "earnings": r"(?:make|earn|made|making|earning) (?:\$|₹|rs\.? ?|usd ?|inr ?)[\d,]+k? "
    r"(?:per|a|every|each|last|this|in)",
    "limited spots": r"spots are limited|limited (?:spots|seats|slots) (?:left|available)",
    "working capital": r"working capital",
    "business loan": r"(?:business|equipment|collateral-free|collateral free) loans?",
    "no collateral": r"(?:no|without) collateral|collateral[- ]free",
    "funding approved": r"funding (?:has been |is )?approved|funds in \d+ (?:hours|hrs|"
    r"minutes)",
    "need cash": r"need cash",
    "кредит": _ru("(?:кредит|займ)"),  # credit, loan
    # betting, dating
    "betting": r"betting",
    "jackpot": r"jackpots?",
    "poker": r"poker",
    "lottery": r"lotter(?:y|ies)",
    "win big": r"win (?:big|real money|cash)",
    "sure-shot": r"sure[- ]?shot|100 ?% (?:fix|sure|guaranteed)",
    "dating": r"(?<!-)dating",  # not back-dating (of records) or up-dating
    "lonely": r"lonely",
    "online pharmacy": r"online pharmacy|rx meds",
    # frauds and phishing
    # A customer's own payment may be on hold (until acceptance, say).
    "payment on hold": r"payment (?:of \S+ )?(?:is |has been )?(?:on hold|declined|"
    r"suspended)",
    "overdue invoice": r"overdue (?:invoice|payment|balance)|payment (?:is )?(?:overdue|"
    r"pending)|(?:invoice|payment) (?:is )?overdue",
    "view the document": r"(?:view|download|open|see|review) (?:and pay )?(?:the |your )?"
    r"(?:attached )?(?:invoice|statement|document|receipt|proposal|agreement|contract)s?"
    r"(?: here| below| online| now)?",
    "shared document": r"(?:shared|sent) (?:a |an )?(?:document|file|folder|pdf) with you|"
    r"(?:document|file) (?:was|has been) shared with you",
    "secure link": r"(?:via|through|using|at) (?:the|this|a) secure link",
    "account suspended": r"(?:account|profile|listing|page|domain|mailbox) (?:will be|has "
    r"been|is) (?:suspended|deactivated|locked|blocked|closed|terminated|disabled|deleted)",
    "verify now": r"verify (?:your )?(?:account|identity|details|profile|listing|business)|"
    r"verify now|confirm your (?:details|identity|account|payment)",
    # A buyer's vendor portal may ask for the same.
    "KYC update": r"(?:kyc|pan|aadhaar) (?:is )?(?:pending|expired|not updated|update)|update "
    r"your (?:kyc|pan)",
    "hacked device": r"(?:hacked|access to) your (?:device|computer|webcam|phone)",
    "you have won": r"you(?:'ve| have)? won|you(?:'ve| have) been selected to (?:receive|"
    r"win|get)",
    # A plant may have a foreign partner (a joint venture), not a "trusted" one.
    "foreign partner": r"(?:trusted|honest) foreign partner|foreign business partner",
    "your discretion": r"(?:utmost|absolute|strict) discretion|your discretion is (?:highly )?"
    r"(?:needed|required)|mutual(?:ly)? benefi(?:t|cial) (?:business )?(?:proposal|"
    r"transaction|deal)",
    "millions on offer": r"(?:sum|proposal|deal|transaction|transfer|funds?|amount) (?:of|"
    r"worth) (?:us)?\$ ?[\d.,]+ ?(?:million|m)",
    # bulk senders
    "click here": r"click (?:here|the link|this link|below|on the link|the button)|tap here",
    "not interested": r"(?:if|in case) (?:you(?:'re| are) )?not interested",
    "percent off": r"up to \d+ ?% off",
    "hello dear": r"hello (?:dear|friend)|hi dear|dear friend",
    "Telegram": r"(?:telegram|whatsapp) (?:group|channel)|(?:on|via) telegram",
    "телеграм": _ru("телеграм"),
}

_HINTS: dict[str, str] = {
    "loan": r"loans?",
    # An MSME's own bank may offer a plant these.
    "low interest": r"low(?:est)? interest(?: rates?)?",
    "fast approval": r"fast approvals?",
    "opt out": r"opt[- ]?out",
    "affordable rates": r"(?:most |very |highly )?(?:affordable|cheap|unbeatable) (?:rates?|"
    r"prices?|pricing|packages?)",
    "free consultation": r"free (?:consultation|estimate|report)",
    # Not "came across your website": customers write it as often as spammers.
    "noticed your website": r"(?:noticed|was (?:checking|looking at|browsing|reviewing)) "
    r"your (?:web ?site|site|homepage)",
    "saw your profile": r"saw your profile",
    "hourly rate": r"(?:\$|usd ?|€)\s?\d+ ?(?:/ ?|per )(?:hour|hr)",
    "a short call": r"(?:quick |short )?\d+[- ]min(?:ute)?s? (?:call|chat)",
    "reply for details": r"reply for (?:more )?(?:details|info|information)|send (?:me|us) "
    r"your requirements?",
}


# Acronyms, matched in the text as written: their lower-case spelling may mean something
# else ("Seo" is a Korean name, "da" a word of several languages).
_ACRONYMS: dict[str, tuple[int, str]] = {
    "SEO services": (
        GIVEAWAY,
        r"(?:SEO|seo) (?i:services?|packages?|agency|agencies|experts?|consultants?|company|"
        r"specialists?|audit)",
    ),
    "DA/DR": (GIVEAWAY, r"DA\s*(?:/|and|&)\s*DR|(?:DA|DR)\s?\d{2}\+|(?i:high) (?:DA|DR)"),
    "PBN": (GIVEAWAY, r"PBNs?"),
    "SEO": (STRONG, r"SEO|seo"),
    "Google Business Profile": (STRONG, r"GMB"),
    "NFT": (STRONG, r"NFTs?"),
}

_TIERS = ((GIVEAWAY, _GIVEAWAYS), (STRONG, _STRONG), (CLUE, _CLUES), (HINT, _HINTS))
_TERMS: tuple[tuple[str, int], ...] = tuple(
    (label, weight) for weight, terms in _TIERS for label in terms
)
"""Each term's label and weight, by its group's number in _VOCABULARY less one."""
# One pattern for all the vocabulary: one pass over the text, and where two terms start
# at the same place, the heavier (listed first) is taken. It reads the text lower-cased,
# and an empty group after each term says which matched: so each term keeps a plain first
# character, which sre tests before it tries the term (case-insensitive, with a group
# around each term, the pass took ten times as long). A term starts where no Latin or
# Cyrillic letter or digit precedes (Chinese runs its words together: "SEO" follows a
# Chinese word directly), and with a character that some term starts with.
_VOCABULARY = re.compile(
    rf"(?<![a-z0-9]|{_RU})(?=[a-z0-9$\u20ac]|{_RU})(?:"
    + "|".join(f"(?:{pattern})()" for _, terms in _TIERS for pattern in terms.values())
    + r")(?![a-z0-9])"
)
_ACRONYM_TERMS = tuple((label, weight) for label, (weight, _) in _ACRONYMS.items())
_ACRONYM_VOCABULARY = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z])(?:"
    + "|".join(f"(?:{pattern})()" for _, pattern in _ACRONYMS.values())
    + r")(?![A-Za-z0-9])"
)

VOCABULARY: frozenset[str] = frozenset(label for label, _ in _TERMS + _ACRONYM_TERMS)
"""Every word a signal may quote."""
SIGNALS: frozenset[str] = frozenset(
    {
        "a URL shortener",
        "only a link",
        "the name is a URL",
        "the name is a domain",
        "the company is a URL",
        "the company is a domain",
        "Cyrillic text",
        "CJK text",
        "a word of mixed alphabets",
        "mostly capitals",
    }
)
"""Every signal other than a count of links ("1 link", "3 links") or a quoted word of
VOCABULARY."""


@dataclass(frozen=True)
class Verdict:
    """What a post's content scored, and why."""

    score: int
    signals: tuple[str, ...]
    """Each in words the team reads: "3 links", "'backlinks'", "a URL shortener"."""
    threshold: int

    @property
    def spam(self) -> bool:
        return self.score >= self.threshold

    @property
    def reason(self) -> str:
        """The signals, comma-separated, whole signals only up to REASON_MAX characters."""
        reason = ""
        for signal in self.signals:
            longer = f"{reason}, {signal}" if reason else signal
            if len(longer) > REASON_MAX:
                break
            reason = longer
        return reason


def assess(*, name: str, company: str, message: str, threshold: int | None = None) -> Verdict:
    """The content score of a contact post; `threshold` None: SPAM_THRESHOLD."""
    name, company, message = _plain(name), _plain(company), _plain(message)
    signals: list[tuple[str, int]] = []
    for field, text, weights in (
        ("name", name, {"URL": NAME_URL, "domain": NAME_DOMAIN}),
        ("company", company, {"URL": COMPANY_URL, "domain": COMPANY_DOMAIN}),
    ):
        kind = _link_kind(text)
        if kind:
            signals.append((f"the {field} is a {kind}", weights[kind]))
    signals += _message_links(message)
    signals += _vocabulary(_unmasked(" \n ".join((name, company, message))))
    signals += _writing(message)
    return Verdict(
        score=sum(weight for _, weight in signals),
        signals=tuple(signal for signal, _ in signals),
        threshold=settings().spam_threshold if threshold is None else threshold,
    )


def _plain(text: str) -> str:
    """`text` as the patterns read it: compatibility forms folded (the bold and
    full-width letters that dodge filters become plain ones), invisible format
    characters (a zero-width space inside a word) dropped, curly quotes made straight."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text).translate(_QUOTES))


def _unmasked(text: str) -> str:
    """`text` with each word that mixes Latin and Cyrillic letters spelt in Latin ones
    ("casino" typed with a Cyrillic c, a and o is read as "casino"); a word all in
    Cyrillic stays as it is."""
    if text.isascii():
        return text
    return _MIXED_WORD.sub(lambda word: word.group().translate(_LOOKALIKES), text)


def _without_emails(text: str) -> str:
    """`text` in lower case (as the link patterns read it), without email addresses,
    whose domains are no links."""
    return _EMAIL.sub(" ", text.lower())


def _host(link: str) -> str:
    found = _HOST.match(_DOT_SPELLED.sub(".", link))
    return found.group(1) if found else ""


def _link_kind(field: str) -> str | None:
    """What a one-line field (the name, the company) holds: a "URL" (with its scheme or
    www., or a shortener's), a bare "domain", or no link (None)."""
    links = _LINK.findall(_without_emails(field))
    if not links:
        return None
    if any(_SCHEMED.match(link) or _host(link) in SHORTENERS for link in links):
        return "URL"
    return "domain"


def _message_links(message: str) -> list[tuple[str, int]]:
    text = _without_emails(message)
    links = _LINK.findall(text)
    if not links:
        return []
    count = len(links)
    signals = [(f"{count} link{'s' if count > 1 else ''}", min(LINK * count, LINKS_MOST))]
    if any(_host(link) in SHORTENERS for link in links):
        signals.append(("a URL shortener", SHORTENER))
    if len(_LETTERS.findall(_LINK.sub(" ", text))) <= ONLY_LINK_WORDS:
        signals.append(("only a link", ONLY_LINK))
    return signals


def _vocabulary(text: str) -> list[tuple[str, int]]:
    """Each term of the vocabulary found in `text`, once, in the order first found."""
    text = _SPACES.sub(" ", text)
    found: list[tuple[int, str, int]] = []
    for pattern, terms, source in (
        (_VOCABULARY, _TERMS, text.lower()),
        (_ACRONYM_VOCABULARY, _ACRONYM_TERMS, text),
    ):
        for match in pattern.finditer(source):
            label, weight = terms[(match.lastindex or 1) - 1]
            found.append((match.start(), f"'{label}'", weight))
    signals: dict[str, int] = {}
    for _, label, weight in sorted(found):
        signals.setdefault(label, weight)
    return list(signals.items())


def _writing(message: str) -> list[tuple[str, int]]:
    """How the message is written: in another alphabet, with look-alike letters, or
    shouted."""
    signals: list[tuple[str, int]] = []
    letters = "".join(_LETTERS.findall(message))
    if not letters.isascii():
        share = OTHER_SCRIPT_SHARE * len(letters)
        if sum("\u0400" <= c <= "\u04ff" for c in letters) >= share:
            signals.append(("Cyrillic text", OTHER_SCRIPT))
        # Kana, CJK ideographs, Hangul syllables.
        if sum("\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in letters) >= share:
            signals.append(("CJK text", OTHER_SCRIPT))
        if _MIXED_WORD.search(message):
            signals.append(("a word of mixed alphabets", MIXED_SCRIPT))
    cased = [c for c in letters if c.isupper() or c.islower()]
    upper = sum(c.isupper() for c in cased)
    if len(cased) >= SHOUTING_LETTERS and upper >= SHOUTING_SHARE * len(cased):
        signals.append(("mostly capitals", SHOUTING))
    return signals
