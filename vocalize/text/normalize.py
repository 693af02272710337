"""Raw text -> clean text for the G2P.

The G2P (hibari) already reads most numbers: cardinals, ordinals, years, decimals, percents,
$/£/€/¥ amounts with scale words, times, ISO and month-name dates, many units, titles and common
abbreviations, and it spells all-caps words it has no word for ("FBI") while reading the ones it
has ("NASA"). This module handles what comes before it: Unicode clean-up, whitespace and
paragraphs, markup kept verbatim, and the readings hibari gets wrong or lacks (phone numbers,
ambiguous numeric dates, mixed fractions, 4-digit counts, trailing-zero decimals, leading zeros,
more units with singular/plural, street abbreviations, "e.g."/"i.e.", "C#", "24/7", URLs ...).
Where hibari reads a form right, the digits are left for it.

Paragraphs in the result are separated by :data:`PARAGRAPH_BREAK`; nothing else spans lines.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PARAGRAPH_BREAK", "normalize", "normalize_paragraph"]

PARAGRAPH_BREAK = "\n\n"


class _Lazy:
    """A regular expression compiled on its first use. Most of this module's patterns are
    for numbers, addresses and abbreviations, which most sentences do not have: compiling
    them all at import took 20 ms of a new process's start."""

    __slots__ = ("_args", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._pattern: re.Pattern[str] | None = None

    def __getattr__(self, name: str):  # search, sub, split ... of the compiled pattern
        if self._pattern is None:
            self._pattern = re.compile(*self._args)
        return getattr(self._pattern, name)

# -- markup kept verbatim ----------------------------------------------------------------------
# Inline pronunciations "[word](/phonemes/)", pauses "[pause:0.5s]" and SSML "<break .../>" go to
# the G2P/markup layer untouched: each is swapped for a private-use placeholder character while
# the text around it is normalized, then put back.
_MARKUP = _Lazy(
    r"\[[^\[\]\n]+\]\(/[^()\n]*/\)"
    r"|\[pause\s*:[^\[\]\n]*\]"
    r"|<break\b[^<>]*>(?:\s*</break>)?",
    re.IGNORECASE,
)
_PUA_FIRST, _PUA_LAST = 0xE000, 0xF8FF
_PUA = _Lazy("[\ue000-\uf8ff]")

# -- characters --------------------------------------------------------------------------------
# Characters the G2P reads itself ("½" -> "one half", "²" -> "squared") but NFKC would flatten.
_KEEP_FROM_NFKC = "½¼¾²³™µº"  # "º" is made "°" below
# Symbols (category So) the G2P has words for; every other symbol (emoji, dingbats) is dropped.
_SPOKEN_SYMBOLS = frozenset("°©®™")
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»‹›", '"'),
        **dict.fromkeys("‐‑‒−", "-"),
        **dict.fromkeys("―⸺⸻", "—"),
        "\t": " ",
        "\u2028": "\n",
        "\u2029": "\n\n",
        "\x0b": "\n",
        "\x0c": "\n\n",
        "\u2044": "/",  # fraction slash, from NFKC of "⅓"
        "º": "°",  # the ordinal indicator is often typed for a degree sign ("20ºC")
    }
)
# Categories removed outright: controls, format (zero-width, bidi), surrogates, private use,
# unassigned, combining marks (variation selectors, zalgo; NFKC already composed accents).
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
# Categories replaced by a space so the words around them stay apart: emoji and other symbols.
_SPACE_CATEGORIES = frozenset({"So", "Sk", "Zs", "Zl", "Zp"})

_NON_ASCII_OR_CONTROL = _Lazy(r"[^\x20-\x7e\n]")
_PARAGRAPHS = _Lazy(r"\n[ ]*\n\s*")
# A markdown heading or bullet line: its marker is dropped and it becomes a paragraph of its own.
_BLOCK_LINE = _Lazy(r"^[ ]*(?:#{1,6}|[-*•+])[ ]+(?=\S)(.*)$", re.M)
_RULE_LINE = _Lazy(r"^[ ]*([-*_=])(?:[ ]*\1){2,}[ ]*$", re.M)  # "---": a paragraph break
_SPACES = _Lazy(r"\s+")
_SPACE_BEFORE_PUNCT = _Lazy(r" +(?=[,.;:!?](?!\d))")

# -- addresses ---------------------------------------------------------------------------------
_URL = _Lazy(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]'}]", re.I)
_EMAIL = _Lazy(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_DOMAIN = _Lazy(
    r"\b(?:[A-Za-z0-9-]+\.)+(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz|us|ca|au|tv|ly|ai|dev|app)\b"
    r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)\]'}])?"
)
_ADDRESS_PARTS = _Lazy(r"([./@:_?=&#~+%-])")
_ADDRESS_WORDS = {
    ".": "dot", "/": "slash", "@": "at", ":": "colon", "_": "underscore", "?": "question mark",
    "=": "equals", "&": "and", "#": "hash", "~": "tilde", "+": "plus", "%": "percent", "-": "dash",
}
_SCHEME = _Lazy(r"^(?:https?|ftp)://", re.I)

# -- numbers -----------------------------------------------------------------------------------
MAX_NUMBER_DIGITS = 15  # longer numbers are read digit by digit (the G2P has no words past this)
_HAS_DIGIT = _Lazy(r"\d")
_NUMBER = _Lazy(r"([$£€¥] ?)?(\d+(?:,\d+)*)")
_CURRENCY_PLURAL = {"$": "dollars", "£": "pounds", "€": "euros", "¥": "yen"}
# Phone numbers: "555-123-4567", "555.123.4567", "(555) 123-4567", "1-800-555-1234", "555-1234",
# "+1 555 123 4567", "+44 20 7946 0958". Read digit by digit, groups apart.
_PHONE = _Lazy(
    r"(?<![\w.\-+/])"
    r"(?:"
    r"\+\d{1,3}(?:[ .\-]\(?\d{1,4}\)?){2,5}"  # international
    r"|(?:1[ .\-])?\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}"  # (555) 123-4567
    r"|(?:1-)?(?:\d{3}-)?\d{3}-\d{4}"  # 555-123-4567, 555-1234
    r"|(?:1\.)?\d{3}\.\d{3}\.\d{4}"  # 555.123.4567
    r")"
    r"(?![\w\-]|[.,]\d)"
)
_PHONE_GROUPS = _Lazy(r"\d+")
_ORD = r"(?:st|nd|rd|th)?"
_RANGE = _Lazy(
    rf"(?<![\w.\-])(\d{{1,4}}{_ORD})\s?[-–]\s?(\d{{1,4}}{_ORD})(?![\w\-]|[.,]\d)"
)
_BETWEEN_BEFORE = _Lazy(r"\b[Bb]etween\s+$")
_ABOUT = _Lazy(r"~\s?(?=\d)")
# 'v2.0.3', 'V10.1': a version number.
_VERSION = _Lazy(r"(?<![\w.])[vV](\d+(?:\.\d+)+)(?![\w]|\.\d)")
# '84" wide': inches (a double quote after a number that does not close a quotation).
_INCH_MARK = _Lazy(r'(?<![\w.\'])(\d+(?:\.\d+)?)"(?=[\s,.;:!?)\-]|$)')
_THOUSANDS = _Lazy(r"(?<![\w.,])(\d{1,3}(?:\.\d+)?)k\b")
# "10M people", "$5bn", "3 tn": scale words the G2P (and its currency rule) then read.
_SCALE = _Lazy(
    r"(?<![\w.])(\d+(?:\.\d+)?)(?: ?(bn|mn|mln|tn)(?![\w'])|(M|B)(?= (?!(?:was|has|does|goes|is|as|its|this)\b)(?:[a-z]+s|people|more|of)\b))"
)
_SCALE_WORDS = {"bn": "billion", "mn": "million", "mln": "million", "tn": "trillion", "M": "million", "B": "billion"}
# "100 USD", "12.50 EUR": moved before the number so the G2P's currency reading applies.
_CODE_AFTER = _Lazy(r"(?<![\w.,$£€¥])(\d[\d,]*(?:\.\d+)?) ?(USD|EUR|GBP)\b")
_CODE_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£"}
_CODE_WORDS = _Lazy(
    r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) ?(JPY|CNY|RMB|INR|CAD|AUD|CHF)\b|\b(US|C|A|NZ|HK)\$ ?(\d[\d,]*(?:\.\d+)?)"
)
_CODE_NAMES = {
    "JPY": ("yen", "yen"), "CNY": ("yuan", "yuan"), "RMB": ("yuan", "yuan"), "INR": ("rupee", "rupees"),
    "CAD": ("Canadian dollar", "Canadian dollars"), "AUD": ("Australian dollar", "Australian dollars"),
    "CHF": ("Swiss franc", "Swiss francs"), "US": ("US dollar", "US dollars"),
    "C": ("Canadian dollar", "Canadian dollars"), "A": ("Australian dollar", "Australian dollars"),
    "NZ": ("New Zealand dollar", "New Zealand dollars"), "HK": ("Hong Kong dollar", "Hong Kong dollars"),
}
# Numeric dates d/m/y with "/", "." or "-" (ISO year-first dates are the G2P's).
_NUMERIC_DATE = _Lazy(
    r"(?<![\w./\-])(\d{1,2})(?:(/)(\d{1,2})/(\d{4}|\d{2})|([.\-])(\d{1,2})\5(\d{4}))(?![\w/\-]|[.,]\d)"
)
# "3.11.7" (a version) -> "3 point 11 point 7"; "192.168.0.1" (an IP address) -> "... dot ...".
_DOTTED_NUMBER = _Lazy(r"(?<![\w.])\d+(?:\.\d+){2,}(?![\w]|\.\d)")
# "6:45pm" is the G2P's; "9am", "9 AM", "11PM" are made "9 a.m." which it reads.
_AM_PM = _Lazy(r"(?<![\w.:])(1[0-2]|0?[1-9]) ?([AaPp])(?:\. ?[Mm]\.?|[Mm]\b)")
_TWENTY_FOUR_SEVEN = _Lazy(r"(?<![\w/.])24/7(?![\w/]|\.\d)")
# Mixed numbers "2 1/2", "2½" and fractions before a measure word ("9/16 inch").
_MIXED = _Lazy(r"(?<![\w./])(\d+)(?: (\d{1,2})/(\d{1,3})(?![\w/]|[.,]\d)| ?([½¼¾]))")
_MEASURE_FRACTION = _Lazy(
    r"(?<![\w./])(\d{1,2})/(\d{1,3}) (?=(of|inch|inches|in|cup|cups|mile|miles|teaspoons?|tablespoons?|"
    r"tsp|tbsp|pounds?|lbs?|oz|ounces?|ft|feet|foot|yards?|acres?|hours?|gallons?|liters?|litres?)\b)"
)
_QUANTITY_AFTER = _Lazy(r"\s+of\b|\s*(?:[,.;:!?)]|$)")
_SINGULAR_MEASURES = frozenset(
    "inch cup mile teaspoon tablespoon pound ounce foot yard acre hour gallon liter litre".split()
)
_FRACTION_CHARS = {"½": (1, 2), "¼": (1, 4), "¾": (3, 4)}
# "3.0", "2.50": the G2P drops trailing zeros ("3.0" -> "three"); they are read here.
_TRAILING_ZERO = _Lazy(r"(?<![\w.,$£€¥\-])(-?\d+)\.(\d*0)(?![\w.,]|[.,]\d)")
# ".5" -> "0.5" (the G2P joins " .5" to the word before and loses the point).
_BARE_DECIMAL = _Lazy(r"(?<![\w.,$£€¥])\.(?=\d)")
# US ZIP codes after a state's two letters ("IL 62704", "MA 02115-1234"): digit by digit.
_ZIP = _Lazy(r"\b([A-Z]{2})(,? )(\d{5})(?=(?:-\d{4})?(?![\w\-]|[.,]\d))")
# A state's postal code before a ZIP code ("Denver, CO 80203") is read as its name.
_STATES = dict(
    pair.split(":")
    for pair in (
        "AL:Alabama AK:Alaska AZ:Arizona AR:Arkansas CA:California CO:Colorado CT:Connecticut DE:Delaware"
        " FL:Florida GA:Georgia HI:Hawaii ID:Idaho IL:Illinois IN:Indiana IA:Iowa KS:Kansas KY:Kentucky"
        " LA:Louisiana ME:Maine MD:Maryland MA:Massachusetts MI:Michigan MN:Minnesota MS:Mississippi"
        " MO:Missouri MT:Montana NE:Nebraska NV:Nevada NH:New_Hampshire NJ:New_Jersey NM:New_Mexico"
        " NY:New_York NC:North_Carolina ND:North_Dakota OH:Ohio OK:Oklahoma OR:Oregon PA:Pennsylvania"
        " RI:Rhode_Island SC:South_Carolina SD:South_Dakota TN:Tennessee TX:Texas UT:Utah VT:Vermont"
        " VA:Virginia WA:Washington WV:West_Virginia WI:Wisconsin WY:Wyoming DC:D.C. PR:Puerto_Rico"
    ).replace("_", "~").split()
)
# Keyboard keys the G2P would spell out ("Ctrl + S").
_KEYS = _Lazy(r"\b(Ctrl|CTRL|Cmd|CMD|Esc|ESC)\b")
_KEY_WORDS = {"ctrl": "control", "cmd": "command", "esc": "escape"}
# "007", "02134": digit by digit.
_LEADING_ZERO = _Lazy(r"(?<![\w.,:/\-$£€¥])0\d+(?![\w%]|[.,:/\-]\d)")
# 4-digit numbers the G2P would read as years ("1234 people" -> "twelve thirty-four").
_FOUR_DIGITS = _Lazy(r"(?<![\w.,:/\-$£€¥#])(\d{4})(?![\w%°:/\-]|[.,]\d)")
_PREV_WORD = _Lazy(r"([A-Za-z]+)\W*$")
_NEXT_WORD = _Lazy(r"\s*([A-Za-z]+)")
_YEAR_BEFORE = frozenset(
    "in on of since by from until till through circa ca c during before after around year years the"
    " summer winter spring fall autumn early late mid end beginning class vintage born died est founded"
    " january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec ad bc".split()
)
_NOT_PLURAL = frozenset(
    "is was has does goes as its this his hers ours yours theirs us thus plus minus versus yes less unless"
    " across always perhaps besides sometimes towards afterwards whereas status census bus bonus campus"
    " virus chaos".split()
)
_COUNT_NOUNS = frozenset(
    "people men women children feet teeth mice geese sheep fish deer staff police personnel cattle data"
    " persons times".split()
)
# "3x faster" -> "3 times", "1920x1080" -> "1920 by 1080".
_TIMES = _Lazy(r"(?<![\w.])(\d+(?:\.\d+)?)[x×](?=\s|$|[,.;:!?)])")
_BY = _Lazy(r"(?<![\w.])(\d+(?:\.\d+)?) ?[x×] ?(?=\d)")
# Feet and inches: "6'2\"", "5 ft 10 in".
_FEET_INCHES = _Lazy(
    r"(?<![\w.])(\d+)(?:'(\d{1,2})(?:\"|'')?(?![\w'])| ?(?:ft\.?|feet|foot) ?(\d{1,2}) ?(?:\"|''|in\b\.?|inches\b|inch\b))"
)

# Units after a number: symbol -> (singular, plural). Case matters ("mm" millimeter, "MB").
_UNITS: dict[str, tuple[str, str]] = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "µm": ("micrometer", "micrometers"), "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"), "yd": ("yard", "yards"), "ft": ("foot", "feet"),
    "km²": ("square kilometer", "square kilometers"), "m²": ("square meter", "square meters"),
    "cm²": ("square centimeter", "square centimeters"), "ft²": ("square foot", "square feet"),
    "sq ft": ("square foot", "square feet"), "sq mi": ("square mile", "square miles"),
    "m³": ("cubic meter", "cubic meters"), "cm³": ("cubic centimeter", "cubic centimeters"),
    "ha": ("hectare", "hectares"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "µg": ("microgram", "micrograms"), "mcg": ("microgram", "micrograms"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "fl oz": ("fluid ounce", "fluid ounces"),
    "L": ("liter", "liters"), "l": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "cl": ("centiliter", "centiliters"), "gal": ("gallon", "gallons"),
    "qt": ("quart", "quarts"), "tbsp": ("tablespoon", "tablespoons"), "tsp": ("teaspoon", "teaspoons"),
    "cc": ("cubic centimeter", "cubic centimeters"),
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "kmh": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"), "m/s²": ("meter per second squared", "meters per second squared"),
    "ms": ("millisecond", "milliseconds"), "µs": ("microsecond", "microseconds"), "ns": ("nanosecond", "nanoseconds"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "yr": ("year", "years"), "yrs": ("year", "years"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "PB": ("petabyte", "petabytes"), "Kb": ("kilobit", "kilobits"), "Mb": ("megabit", "megabits"),
    "Gb": ("gigabit", "gigabits"), "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"), "Gbps": ("gigabit per second", "gigabits per second"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "MW": ("megawatt", "megawatts"),
    "GW": ("gigawatt", "gigawatts"), "Wh": ("watt hour", "watt hours"), "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"), "mV": ("millivolt", "millivolts"), "kV": ("kilovolt", "kilovolts"),
    "mA": ("milliamp", "milliamps"), "mAh": ("milliamp hour", "milliamp hours"),
    "kcal": ("kilocalorie", "kilocalories"), "cal": ("calorie", "calories"), "dB": ("decibel", "decibels"),
    "px": ("pixel", "pixels"), "fps": ("frame per second", "frames per second"),
    "pct": ("percent", "percent"),
    "bpm": ("beat per minute", "beats per minute"), "rpm": ("revolution per minute", "revolutions per minute"),
}
_UNIT = _Lazy(
    r"(?<![\w.,$£€¥/])(\d{1,2}/\d{1,3}|-?\d[\d,]*(?:\.\d+)?)( ?-? ?)("
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![\w/²³'])(?:\.(?= [a-z]))?"  # "5 ft. tall": the abbreviation's dot goes
)
_MIXED_BEFORE = _Lazy(r"\d $")
# "a 10 km run", "the 12 km trail", "a standard 32" doorway": a measure between a determiner
# (and at most one more word) and a noun describes the noun and keeps its unit singular.
_DETERMINER_BEFORE = _Lazy(
    r"\b(?:an?|the|this|that|each|every|its|their|our|his|her|my|your|one|another)\s+"
    r"(?:(?!(?:first|last|next|other|final|remaining|few|additional|extra|past|previous|same)\s)[a-z]+\s+)?$",
    re.I,
)
# Words after a measure that show it is not describing a noun ("the first 12 km of road",
# "the 5 km to town", "a 3 km walk" is attributive but "the 3 km were hard" is not).
_NOT_A_NOUN = frozenset(
    "of per in on at to from into by for with and or but than as away apart off out up down ahead back behind"
    " ago later earlier long wide tall high deep thick old each is are was were be been being has have had"
    " will would can could may might must should shall do does did took take takes made make makes seemed"
    " felt alone together again instead too so then now today yesterday tomorrow tonight".split()
)

# -- words -------------------------------------------------------------------------------------
_EG = _Lazy(r"(?<![\w.])([Ee])\.\s?g\.")
_IE = _Lazy(r"(?<![\w.])([Ii])\.\s?e\.")
_AKA = _Lazy(r"(?<![\w.])a\.k\.a\.", re.I)
_VERSUS = _Lazy(r"(?<=[A-Za-z]) v\. (?=[A-Z])")
_ETC = _Lazy(r"\betc\.(?=[,;:]| [a-z])")
# hibari reads a lone "no." as "number" ("I said no."); "No." is not in its table.
_NO = _Lazy(r"(?<![\w.])no\.(?! ?#?\d)")
# Abbreviations before a number that the sentence splitter would end a sentence at ("Jan. 5").
_BEFORE_NUMBER_WORDS = {
    "Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June", "Jul": "July",
    "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October", "Nov": "November",
    "Dec": "December", "est": "established", "Est": "Established", "Apt": "Apartment", "Ste": "Suite",
    "Rm": "Room", "Bldg": "Building",
}
_BEFORE_NUMBER = _Lazy(r"(?<![\w.])(" + "|".join(_BEFORE_NUMBER_WORDS) + r")\. ?(?=\d)")
_THE_SUN = _Lazy(r"\b(the|The) Sun\.")
# "Main St." / "Baker St" / "Elm Dr." after a capitalized word or a house number: street words.
_STREET = _Lazy(
    r"(?<![\w.])([A-Z][a-z]+|\d+(?:st|nd|rd|th)?) (St|Dr|Rd|Ave|Blvd|Ln)(\.)?(?![\w'])"
)
_STREET_WORDS = {"St": "Street", "Dr": "Drive", "Rd": "Road", "Ave": "Avenue", "Blvd": "Boulevard", "Ln": "Lane"}
_NEXT_CAPITAL = _Lazy(r" ([A-Z][a-z]*)\b")
# Capitalized words that start sentences more often than they follow "St." in a name.
_SENTENCE_OPENERS = frozenset(
    "The Then It He She We They I You This That There These Those But And So A An In On At My Our His Her"
    " Its Their Your What When Where Why How If After Before Now Today Yesterday Tomorrow".split()
)
_SENTENCE_START = _Lazy(r"(?:^|[.!?:;\"(]\s*)$")
_SHARP = _Lazy(r"(?<![\w#])([A-Ga-g])#(?![\w#])")
_HASHTAG_WORD = _Lazy(r"\b([Hh]ashtags?) #(?=\w)")

_DECORATION = _Lazy(r"([=*_~#+<>|^])\1{2,}")
_REPEATED_PUNCT = _Lazy(r"([!?.,;:…])\1{3,}")
_DASH = _Lazy(r"\s*-{2,}\s*|\s+-\s+")

# Unbroken runs longer than this are checked for being slow or unreadable for the G2P.
_LONG_RUN = _Lazy(r"\S{20,}")
_RUN_PIECES = _Lazy(r"[^\W\d_]+|\d+|[\ue000-\uf8ff]|[^\w\s\ue000-\uf8ff]+|_+")
MAX_RUN_PIECES = 16  # hibari's subword search is cubic in the pieces of one unbroken run
MAX_LETTERS = 40  # longer letter runs are cut (no English word is longer; the OOV net reads 24)

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    " sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
_MONTHS = ("January February March April May June July August September October November December").split()


# -- public ------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Clean ``text`` for the G2P; paragraphs are joined by :data:`PARAGRAPH_BREAK`.

    Markup (``[word](/phonemes/)``, ``[pause:0.5s]``, ``<break time="500ms"/>``) is kept verbatim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii() and _PUA.search(text):
        text = _PUA.sub("", text)  # private-use characters are dropped anyway; placeholders use them
    markup: list[str] = []
    if "[" in text or "<" in text:
        text, markup = _protect_markup(text)
    text = _clean_characters(_nfkc(text))
    if "\n" in text or text.lstrip()[:1] in ("#", "-", "*", "•", "+"):
        text = _BLOCK_LINE.sub(lambda m: f"\n\n{m.group(1)}\n\n", _RULE_LINE.sub("\n", text))
    paragraphs = (normalize_paragraph(p) for p in _PARAGRAPHS.split(text))
    text = PARAGRAPH_BREAK.join(p for p in paragraphs if p)
    if markup:
        text = _PUA.sub(lambda m: markup[ord(m.group()) - _PUA_FIRST], text)
    return text


def normalize_paragraph(text: str) -> str:
    """One paragraph: whitespace collapsed to single spaces, then the text rules."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    if "/" in text or "@" in text or "." in text:
        text = _URL.sub(_speak_address, text)
        text = _EMAIL.sub(_speak_address, text)
        text = _DOMAIN.sub(_speak_address, text)
    text = _DECORATION.sub(" ", text)
    text = _REPEATED_PUNCT.sub(r"\1\1\1", text)
    if _HAS_DIGIT.search(text):
        text = _NUMBER.sub(_long_number, text)
        text = _LONG_RUN.sub(_break_run, text)
        text = _numbers(text)
    else:
        text = _LONG_RUN.sub(_break_run, text)
    text = _words(text)
    text = _DASH.sub(" — ", text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub("", text)


# -- steps -------------------------------------------------------------------------------------
def _protect_markup(text: str) -> tuple[str, list[str]]:
    """``text`` with each markup span replaced by one private-use character, and the spans."""
    spans: list[str] = []

    def hold(m: re.Match[str]) -> str:
        if len(spans) > _PUA_LAST - _PUA_FIRST:
            return m.group()
        spans.append(m.group())
        return chr(_PUA_FIRST + len(spans) - 1)

    return _MARKUP.sub(hold, text), spans


def _numbers(text: str) -> str:
    """The number rules, in an order where each sees what the earlier ones left."""
    text = _PHONE.sub(_phone, text)
    text = _NUMERIC_DATE.sub(_numeric_date, text)
    if "v" in text or "V" in text:
        text = _VERSION.sub(r"version \1", text)
    text = _DOTTED_NUMBER.sub(_dotted_number, text)
    text = _AM_PM.sub(_am_pm, text)
    if "/" in text:
        text = _TWENTY_FOUR_SEVEN.sub("twenty-four seven", text)
    text = _ZIP.sub(_zip, text)
    text = _SCALE.sub(lambda m: f"{m.group(1)} {_SCALE_WORDS[m.group(2) or m.group(3)]}", text)
    text = _CODE_AFTER.sub(lambda m: _CODE_SYMBOL[m.group(2)] + m.group(1), text)
    text = _CODE_WORDS.sub(_currency_words, text)
    text = _FEET_INCHES.sub(_feet_inches, text)
    if '"' in text:
        text = _inch_marks(text)
    text = _UNIT.sub(_unit, text)
    text = _MIXED.sub(_mixed_number, text)
    if "/" in text:
        text = _MEASURE_FRACTION.sub(_measure_fraction, text)
    text = _RANGE.sub(_range, text)
    text = _ABOUT.sub("about ", text)
    text = _THOUSANDS.sub(r"\1 thousand", text)
    text = _BY.sub(r"\1 by ", text)
    text = _TIMES.sub(r"\1 times", text)
    text = _TRAILING_ZERO.sub(_trailing_zero, text)
    text = _BARE_DECIMAL.sub("0.", text)
    text = _LEADING_ZERO.sub(lambda m: " ".join(_ONES[int(d)] for d in m.group()), text)
    return _FOUR_DIGITS.sub(_four_digits, text)


def _words(text: str) -> str:
    """Abbreviations and symbols the G2P reads wrong or not at all."""
    if "." in text:
        text = _EG.sub(lambda m: "For example" if m.group(1) == "E" else "for example", text)
        text = _IE.sub(lambda m: "That is" if m.group(1) == "I" else "that is", text)
        text = _AKA.sub("also known as", text)
        text = _VERSUS.sub(" versus ", text)
        text = _ETC.sub("etc", text)
        text = _NO.sub("No.", text)
        text = _BEFORE_NUMBER.sub(lambda m: _BEFORE_NUMBER_WORDS[m.group(1)] + " ", text)
        text = _THE_SUN.sub(r"\1 sun.", text)
    if "St" in text or "Dr" in text or "Rd" in text or "Ave" in text or "Blvd" in text or "Ln" in text:
        text = _STREET.sub(_street, text)
    text = _KEYS.sub(lambda m: _KEY_WORDS[m.group(1).lower()], text)
    if "#" in text:
        text = _SHARP.sub(lambda m: f"{m.group(1).upper()} sharp", text)
        text = _HASHTAG_WORD.sub(r"\1 ", text)  # the G2P says "hashtag" for the "#" itself
    return text


def _nfkc(text: str) -> str:
    """NFKC (full-width forms, ligatures, "℃", "①") except for characters the G2P reads itself."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    parts = re.split(f"([{_KEEP_FROM_NFKC}])", text)
    return "".join(p if len(p) == 1 and p in _KEEP_FROM_NFKC else unicodedata.normalize("NFKC", p) for p in parts)


def _clean_characters(text: str) -> str:
    """Straight quotes and dashes; controls, zero-width marks, emoji and other symbols removed."""
    text = text.translate(_TRANSLATE)
    return _NON_ASCII_OR_CONTROL.sub(_clean_char, text)


def _clean_char(m: re.Match[str]) -> str:
    c = m.group()
    if _PUA_FIRST <= ord(c) <= _PUA_LAST:  # a markup placeholder (others were removed before)
        return c
    category = unicodedata.category(c)
    if category in _DROP_CATEGORIES:
        return ""
    if category in _SPACE_CATEGORIES and c not in _SPOKEN_SYMBOLS:
        return " "
    return c


def _speak_address(m: re.Match[str]) -> str:
    """"https://www.example.com/a_b" -> "W W W dot example dot com slash a underscore b"."""
    address = _SCHEME.sub("", m.group()).rstrip("/")
    words = []
    for part in _ADDRESS_PARTS.split(address):
        if part in _ADDRESS_WORDS:
            words.append(_ADDRESS_WORDS[part])
        elif part.lower() == "www":
            words.append("W W W")
        elif part:
            words.append(part)
    return " " + " ".join(words) + " "


# -- number words ------------------------------------------------------------------------------
def _cardinal(n: int) -> str:
    """1234 -> "one thousand two hundred thirty-four" (American: no "and")."""
    if n < 0:
        return "minus " + _cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {_cardinal(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{_cardinal(high)} {name}" + (f" {_cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _ordinal(n: int) -> str:
    """23 -> "twenty-third"."""
    words = _cardinal(n)
    head, sep, last = words.rpartition(" ")
    first, dash, last = last.rpartition("-")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{first}{dash}{last}"


def _fraction_words(a: int, b: int) -> str:
    """(3, 4) -> "three quarters", (1, 16) -> "one sixteenth"."""
    if b == 2:
        return "one half" if a == 1 else f"{_cardinal(a)} halves"
    if b == 4:
        return "one quarter" if a == 1 else f"{_cardinal(a)} quarters"
    return f"{_cardinal(a)} {_ordinal(b)}" + ("" if a == 1 else "s")


def _spell_digits(digits: str) -> str:
    """"123456789" -> "1 2 3 4, 5 6 7 8, 9": read digit by digit, in groups of four."""
    groups = (digits[i : i + 4] for i in range(0, len(digits), 4))
    return ", ".join(" ".join(g) for g in groups)


def _long_number(m: re.Match[str]) -> str:
    """A number too long for words is read digit by digit ("$" + 40 digits: the digits, "dollars")."""
    digits = m.group(2).replace(",", "")
    if len(digits) <= MAX_NUMBER_DIGITS:
        return m.group()
    currency = f" {_CURRENCY_PLURAL[m.group(1).strip()]}" if m.group(1) else ""
    return " " + _spell_digits(digits) + currency + " "


def _phone(m: re.Match[str]) -> str:
    """"(555) 123-4567" -> "5 5 5, 1 2 3, 4 5 6 7"; "(800) 555-0199" -> "8 hundred, 5 5 5, ...";
    "+44 20 ..." -> "plus 4 4, 2 0, ..."."""
    phone = m.group()
    groups = _PHONE_GROUPS.findall(phone)
    digits = sum(len(g) for g in groups)
    if phone.startswith("+") and not 7 <= digits <= 15:
        return phone
    if phone.startswith("+"):
        return "plus " + ", ".join(" ".join(g) for g in groups)
    # A toll-free or service area code is said as a hundred: "1-800-..." "one, eight hundred".
    area = len(groups) - 3 if len(groups) >= 3 else None
    return ", ".join(
        f"{g[0]} hundred" if i == area and g[0] != "0" and g.endswith("00") else " ".join(g)
        for i, g in enumerate(groups)
    )


def _numeric_date(m: re.Match[str]) -> str:
    """"14/03/2023" -> "March 14, 2023" (only one order is a date); "05/06/2023" (both orders
    are) -> "5 slash 6 slash 2023"; not a date -> the numbers with their separators."""
    if m.group(2):
        a, sep, b, year = int(m.group(1)), "/", int(m.group(3)), m.group(4)
    else:
        a, sep, b, year = int(m.group(1)), m.group(5), int(m.group(6)), m.group(7)
    if len(year) == 2:
        year = ("19" if int(year) > 30 else "20") + year
    as_us = 1 <= a <= 12 and 1 <= b <= 31
    as_day_first = 1 <= b <= 12 and 1 <= a <= 31
    if as_us and (not as_day_first or a == b):
        return f"{_MONTHS[a - 1]} {b}, {year}"
    if as_day_first and not as_us:
        return f"{_MONTHS[b - 1]} {a}, {year}"
    word = {"/": "slash", ".": "dot", "-": "dash"}[sep]
    return f"{a} {word} {b} {word} {year}"


def _dotted_number(m: re.Match[str]) -> str:
    parts = m.group().split(".")
    ip = len(parts) == 4 and all(int(p) <= 255 for p in parts)
    return (" dot " if ip else " point ").join(parts)


def _am_pm(m: re.Match[str]) -> str:
    """"9AM" -> "9 a.m." ("9 a.m" before a full stop, which then ends the abbreviation)."""
    dot = "" if m.string[m.end() : m.end() + 1] == "." else "."
    return f"{int(m.group(1))} {m.group(2).lower()}.m{dot}"


def _measure_fraction(m: re.Match[str]) -> str:
    """"3/4 teaspoon of salt" -> "three quarters of a teaspoon of salt" (a plural fraction of
    one unit, as a quantity: "of" or the clause's end after the unit), but "a 9/16 inch bolt",
    "9/16 inch bolts" (describing a noun) and "1/2 cup" keep the unit next to the fraction."""
    a, b = int(m.group(1)), int(m.group(2))
    words = _fraction_words(a, b)
    unit = m.group(3)
    quantity = _QUANTITY_AFTER.match(m.string, m.end() + len(unit))
    if a > 1 and unit in _SINGULAR_MEASURES and quantity and not _DETERMINER_BEFORE.search(m.string, 0, m.start()):
        return f"{words} of {'an' if unit[0] in 'aeiou' or unit == 'hour' else 'a'} "
    return words + " "


def _mixed_number(m: re.Match[str]) -> str:
    """"2 1/2" -> "2 and a half", "3 3/4" -> "3 and three quarters", "2½" -> "2 and a half"."""
    whole = m.group(1)
    if m.group(4):
        a, b = _FRACTION_CHARS[m.group(4)]
    else:
        a, b = int(m.group(2)), int(m.group(3))
        if not 0 < a < b or b > 100:
            return m.group()
    if a == 1:
        unit = {2: "half", 4: "quarter"}.get(b) or _ordinal(b)
        return f"{whole} and {'an' if unit[0] in 'ae' else 'a'} {unit}"
    return f"{whole} and {_fraction_words(a, b)}"


def _currency_words(m: re.Match[str]) -> str:
    number, code = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    singular, plural = _CODE_NAMES[code]
    return f"{number} {singular if number in ('1', '1.0') else plural}"


def _feet_inches(m: re.Match[str]) -> str:
    feet, inches = m.group(1), m.group(2) or m.group(3)
    return f"{feet} {'foot' if feet == '1' else 'feet'} {inches} {'inch' if inches == '1' else 'inches'}"


def _zip(m: re.Match[str]) -> str:
    """"CO 80203" -> "Colorado eight zero two zero three"."""
    state = _STATES.get(m.group(1), m.group(1)).replace("~", " ")
    return state + m.group(2) + " ".join(_ONES[int(d)] for d in m.group(3))


def _range(m: re.Match[str]) -> str:
    """"10-15" -> "10 to 15"; "between 2010-2015" -> "between 2010 and 2015"."""
    between = _BETWEEN_BEFORE.search(m.string, max(0, m.start() - 12), m.start()) is not None
    return f"{m.group(1)} {'and' if between else 'to'} {m.group(2)}"


def _inch_marks(text: str) -> str:
    """'84" wide' -> "84 inches wide", unless the quote mark closes a quotation opened
    before it ('He said "take 5" and left')."""
    out, last, open_quotes = [], 0, 0
    for m in _INCH_MARK.finditer(text):
        open_quotes += text.count('"', last, m.start())
        out.append(text[last : m.start()])
        if open_quotes % 2:
            out.append(m.group())
            open_quotes += 1
        else:
            one = m.group(1) == "1" or _describes_noun(text, m.start(), m.end())
            out.append(f"{m.group(1)} {'inch' if one else 'inches'}")
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _describes_noun(text: str, start: int, end: int) -> bool:
    """Whether the measure at ``text[start:end]`` stands between a determiner and the noun it
    describes ("the 12 km trail"), so its unit is read in the singular."""
    if _DETERMINER_BEFORE.search(text, max(0, start - 24), start) is None:
        return False
    nxt = _NEXT_WORD.match(text, end)
    return nxt is not None and text[end : nxt.start(1)].strip() == "" and nxt.group(1).lower() not in _NOT_A_NOUN


def _unit(m: re.Match[str]) -> str:
    """"5 km" -> "5 kilometers", "1 km" -> "1 kilometer", "a 10 km run"/"10-km run" -> "10 kilometer run"."""
    number, gap, unit = m.group(1), m.group(2), m.group(3)
    singular, plural = _UNITS[unit]
    attributive = "-" in gap or _describes_noun(m.string, m.start(), m.end())
    one = number.lstrip("-") == "1"
    if "/" in number:  # "1/2 tsp" -> "1/2 teaspoon", but "2 1/2 tsp" -> "... teaspoons"
        a, b = number.split("/")
        one = int(a) < int(b) and not _MIXED_BEFORE.search(m.string, max(0, m.start() - 6), m.start())
    return f"{number} {singular if one or attributive else plural}"


def _trailing_zero(m: re.Match[str]) -> str:
    """"3.0" -> "3 point zero", "2.50" -> "2 point five zero" (the G2P drops trailing zeros)."""
    return f"{m.group(1)} point " + " ".join(_ONES[int(d)] for d in m.group(2))


def _four_digits(m: re.Match[str]) -> str:
    """A 4-digit number counting something ("1234 people") -> "1,234", which the G2P reads as a
    cardinal; one after "in", "since", "the", a month ... or on its own stays a year."""
    digits = m.group(1)
    n = int(digits)
    text = m.string
    prev = _PREV_WORD.search(text, max(0, m.start() - 24), m.start())
    if prev is not None and text[prev.end(1) : m.start()].strip() in ("", ","):
        word = prev.group(1)
        if word.lower() in _YEAR_BEFORE:
            return digits
        if word[0].isupper() and not _SENTENCE_START.search(text, max(0, prev.start(1) - 3), prev.start(1)):
            return digits  # a label's number: "Flight UA 1234", "Room 1205"
    nxt = _NEXT_WORD.match(text, m.end())
    if nxt is not None and text[m.end() : nxt.start(1)].strip() == "":
        word = nxt.group(1)
        if word in _COUNT_NOUNS or (
            word.islower() and len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))
            and word not in _NOT_PLURAL
        ):
            return f"{digits[0]},{digits[1:]}"
    if n >= 2100 and n % 100:
        return f"{digits[0]},{digits[1:]}"
    return digits


def _street(m: re.Match[str]) -> str:
    """"Baker St." -> "Baker Street", "Elm Dr" -> "Elm Drive"; "St. Louis", "Mount St. Helens" and
    "Dr. Smith" (a name after, or no capitalized word before but the sentence's first) are left to
    the G2P's titles."""
    before, abbr, dot = m.group(1), m.group(2), m.group(3)
    text = m.string
    if not before[0].isdigit() and _SENTENCE_START.search(text, max(0, m.start() - 3), m.start()):
        return m.group()
    nxt = _NEXT_CAPITAL.match(text, m.end())
    if nxt is not None and nxt.group(1) not in _SENTENCE_OPENERS:
        if abbr in ("St", "Dr"):
            return m.group()  # a title before a name
        dot = None  # "5th Ave. North": not a sentence end
    end = m.end() >= len(text) or text[m.end()] in "\"')" or nxt is not None
    return f"{before} {_STREET_WORDS[abbr]}" + ("." if dot and end else "")


def _break_run(m: re.Match[str]) -> str:
    """Split an unbroken run the G2P would be slow on (many pieces) or truncate (huge words)."""
    run = m.group()
    pieces: list[str] = _RUN_PIECES.findall(run)
    if len(pieces) <= MAX_RUN_PIECES and not any(len(p) > MAX_LETTERS for p in pieces):
        return run
    lead = pieces.pop(0) if pieces and not _keeps(pieces[0]) else ""
    trail = pieces.pop() if pieces and not _keeps(pieces[-1]) else ""
    words: list[str] = []
    for piece in pieces:
        if _keeps(piece):
            words.extend(piece[i : i + MAX_LETTERS // 2] for i in range(0, len(piece), MAX_LETTERS // 2))
    if not words:
        return " "
    return lead + " ".join(words) + trail


def _keeps(piece: str) -> bool:
    """Whether a piece of a broken run is kept: letters, digits or a markup placeholder."""
    return piece[0].isalnum() or _PUA_FIRST <= ord(piece[0]) <= _PUA_LAST
