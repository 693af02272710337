"""English text normalization: what the G2P receives, and how it then reads it.

Two tables: ``NORMALIZED`` pins the exact output of :func:`normalize` where this module does the
work; ``READS_AS`` checks a reading end to end, whoever does it (this module or hibari's own
rules): the phonemes of the raw text must equal those of the spelled-out words, stress marks and
spaces aside (a number read by the G2P's number path and the same words typed out differ only
in stress and word joins).
"""

from __future__ import annotations

import re

import pytest

from vocalize.text import Frontend
from vocalize.text.normalize import normalize


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend()


def _loose(phonemes: str) -> str:
    """Phonemes without stress, spaces or a closing full stop (one spelled form ends on an
    abbreviation's stop: "P.M.")."""
    return re.sub(r"[ˈˌ\s-]", "", phonemes).removesuffix(".")


def _cases(table: list[tuple[str, str, str]]) -> list:
    return [pytest.param(raw, expected, id=f"{category}:{raw[:40]}") for category, raw, expected in table]


# (category, raw text, exact normalize() output)
NORMALIZED = [
    ("range", "Built between 2010-2015.", "Built between 2010 and 2015."),
    ("range", "Kids ages 10-15 can come.", "Kids ages 10 to 15 can come."),
    ("version", "Update to v2.0.3 now.", "Update to version 2 point 0 point 3 now."),
    ("inches", 'The sofa is 84" wide.', "The sofa is 84 inches wide."),
    ("inches", 'A 1" gap.', "A 1 inch gap."),
    ("inches", 'He said "take 5" and left.', 'He said "take 5" and left.'),
    ("unit", "Her pulse was 96 bpm.", "Her pulse was 96 beats per minute."),
    ("hashtag", "Use the hashtag #CleanOceans today.", "Use the hashtag CleanOceans today."),
    # cardinals, decimals, negatives: digits left for the G2P
    ("cardinal", "I have 3 cats.", "I have 3 cats."),
    ("cardinal", "1,000 people came.", "1,000 people came."),
    ("cardinal", "There were 1234 people.", "There were 1,234 people."),
    ("cardinal", "We sold 2500 units.", "We sold 2,500 units."),
    ("cardinal", "He scored 1500 points.", "He scored 1,500 points."),
    ("cardinal", "There are 3456 of them.", "There are 3,456 of them."),
    ("cardinal", "It has 1024 bytes.", "It has 1,024 bytes."),
    ("cardinal", "Room 1205 is free.", "Room 1205 is free."),
    ("cardinal", "Flight UA 1234 departs soon.", "Flight UA 1234 departs soon."),
    ("cardinal", "About 1500 people came.", "About 1,500 people came."),
    ("cardinal", "Springfield, IL 62704", "Springfield, Illinois six two seven zero four"),
    ("decimal", "Pi is 3.14.", "Pi is 3.14."),
    ("decimal", "Version 3.0 is out.", "Version 3 point zero is out."),
    ("decimal", "It is 4.50 meters.", "It is 4 point five zero meters."),
    ("decimal", "a 10.0% rise", "a 10 point zero% rise"),
    ("decimal", "Pi is .5 now.", "Pi is 0.5 now."),
    ("decimal", "Python 3.11.7 is out.", "Python 3 point 11 point 7 is out."),
    ("decimal", "Ping 192.168.0.1 now.", "Ping 192 dot 168 dot 0 dot 1 now."),
    ("negative", "It was -7 today.", "It was -7 today."),
    ("negative", "It was −7 today.", "It was -7 today."),
    ("leading zero", "Agent 007", "Agent zero zero seven"),
    ("leading zero", "Zip code 02134.", "Zip code zero two one three four."),
    ("long number", "$" + "9" * 20, "9 9 9 9, 9 9 9 9, 9 9 9 9, 9 9 9 9, 9 9 9 9 dollars"),
    ("long number", "Price: $99,999,999,999,999,999.", "Price: 9 9 9 9, 9 9 9 9, 9 9 9 9, 9 9 9 9, 9 dollars."),
    # ranges
    ("range", "Read pages 5-10.", "Read pages 5 to 10."),
    ("range", "Ages 18–25 only", "Ages 18 to 25 only"),
    ("range", "from 2010-2015", "from 2010 to 2015"),
    ("range", "The score was 3-2.", "The score was 3 to 2."),
    # fractions
    ("fraction", "It took 2 1/2 hours.", "It took 2 and a half hours."),
    ("fraction", "Add 2 3/4 cups.", "Add 2 and three quarters cups."),
    ("fraction", "Add 1 1/8 cups.", "Add 1 and an eighth cups."),
    ("fraction", "Add 1 1/3 cups.", "Add 1 and a third cups."),
    ("fraction", "2½ cups", "2 and a half cups"),
    ("fraction", "Use 9/16 inch bolts.", "Use nine sixteenths inch bolts."),
    ("fraction", "Add 3/4 teaspoon of salt.", "Add three quarters of a teaspoon of salt."),
    ("fraction", "It took 3/4 hour.", "It took three quarters of an hour."),
    ("fraction", "a 3/4 inch pipe", "a three quarters inch pipe"),
    ("fraction", "Add 2/3 cup sugar.", "Add two thirds cup sugar."),
    ("fraction", "3/12 of the class", "three twelfths of the class"),
    ("fraction", "Add 1/2 cup.", "Add one half cup."),
    ("fraction", "It is 1/3 done.", "It is 1/3 done."),
    ("fraction", "open 24/7", "open twenty-four seven"),
    # currency
    ("currency", "It costs 100 USD.", "It costs $100."),
    ("currency", "It costs 12.50 EUR.", "It costs €12.50."),
    ("currency", "It costs 5 GBP.", "It costs £5."),
    ("currency", "It costs 500 JPY.", "It costs 500 yen."),
    ("currency", "It costs US$5.", "It costs 5 US dollars."),
    ("currency", "It costs C$20.", "It costs 20 Canadian dollars."),
    ("currency", "a $5bn deal", "a $5 billion deal"),
    ("currency", "3.5bn dollars", "3.5 billion dollars"),
    ("currency", "10M people", "10 million people"),
    ("currency", "5B users", "5 billion users"),
    ("currency", "Gate 5B is closed.", "Gate 5B is closed."),
    ("currency", "It cost $4.5 million.", "It cost $4.5 million."),
    # years
    ("year", "in 2023", "in 2023"),
    ("year", "1999 was a good year.", "1999 was a good year."),
    ("year", "The 2020 elections were close.", "The 2020 elections were close."),
    ("year", "the 1990s", "the 1990s"),
    ("year", "since 1905", "since 1905"),
    ("year", "In 2019, sales rose.", "In 2019, sales rose."),
    # dates
    ("date", "14/03/2023", "March 14, 2023"),
    ("date", "03/14/2023", "March 14, 2023"),
    ("date", "12/25/2023", "December 25, 2023"),
    ("date", "25.12.2023", "December 25, 2023"),
    ("date", "On 3/14/23 we met.", "On March 14, 2023 we met."),
    ("date", "on 1/1/2024", "on January 1, 2024"),
    ("date", "05/06/2023", "5 slash 6 slash 2023"),
    ("date", "05.06.2023", "5 dot 6 dot 2023"),
    ("date", "2023-03-14", "2023-03-14"),
    ("date", "Jan. 5, 2021", "January 5, 2021"),
    ("date", "Sept. 9", "September 9"),
    # times
    ("time", "Meet at 9AM tomorrow.", "Meet at 9 a.m. tomorrow."),
    ("time", "Meet at 9 pm tonight.", "Meet at 9 p.m. tonight."),
    ("time", "Meet at 11PM.", "Meet at 11 p.m."),
    ("time", "Meet at 6:45 PM.", "Meet at 6:45 PM."),
    ("time", "at 18:30", "at 18:30"),
    # phone numbers
    ("phone", "Call 555-123-4567.", "Call 5 5 5, 1 2 3, 4 5 6 7."),
    ("phone", "Call (555) 123-4567 now.", "Call 5 5 5, 1 2 3, 4 5 6 7 now."),
    ("phone", "Call 555.123.4567 now.", "Call 5 5 5, 1 2 3, 4 5 6 7 now."),
    ("phone", "Call +1 555 123 4567.", "Call plus 1, 5 5 5, 1 2 3, 4 5 6 7."),
    ("phone", "Call +44 20 7946 0958.", "Call plus 4 4, 2 0, 7 9 4 6, 0 9 5 8."),
    ("phone", "Call 1-800-555-1234.", "Call 1, 8 hundred, 5 5 5, 1 2 3 4."),
    ("phone", "Call (900) 555-0199 or 1-888-555-1234.", "Call 9 hundred, 5 5 5, 0 1 9 9 or 1, 8 8 8, 5 5 5, 1 2 3 4."),
    ("phone", "Call 555-1004 or 800-1234.", "Call 5 5 5, 1 0 0 4 or 8 0 0, 1 2 3 4."),
    ("phone", "It's 555-1234.", "It's 5 5 5, 1 2 3 4."),
    # units
    ("unit", "It is 1 km away.", "It is 1 kilometer away."),
    ("unit", "It is 5 km away.", "It is 5 kilometers away."),
    ("unit", "It is 1.5 km long.", "It is 1.5 kilometers long."),
    ("unit", "a 10 km run", "a 10 kilometer run"),
    ("unit", "a 5-km run", "a 5 kilometer run"),
    ("unit", "for the 12 km trail", "for the 12 kilometer trail"),
    ("unit", "a standard 32\" doorway", "a standard 32 inch doorway"),
    ("unit", "the first 12 km of road", "the first 12 kilometers of road"),
    ("unit", "She ran the last 5 km alone.", "She ran the last 5 kilometers alone."),
    ("unit", "The 3 km were hard.", "The 3 kilometers were hard."),
    ("address", "Denver, CO 80203.", "Denver, Colorado eight zero two zero three."),
    ("address", "Albany, NY 12207", "Albany, New York one two two zero seven"),
    ("address", "Code XY 12345", "Code XY one two three four five"),
    ("keys", "Press Ctrl + S to save.", "Press control + S to save."),
    ("keys", "Hit Esc, then Cmd+Q.", "Hit escape, then command+Q."),
    ("unit", "It weighs 5kg.", "It weighs 5 kilograms."),
    ("unit", "at 100 km/h", "at 100 kilometers per hour"),
    ("unit", "at 60 mph", "at 60 miles per hour"),
    ("unit", "9.8 m/s", "9.8 meters per second"),
    ("unit", "16 GB of RAM", "16 gigabytes of RAM"),
    ("unit", "a 500 MB file", "a 500 megabyte file"),
    ("unit", "in 20 ms", "in 20 milliseconds"),
    ("unit", "5 cm and 1 mm", "5 centimeters and 1 millimeter"),
    ("unit", "10 lbs and 1 lb", "10 pounds and 1 pound"),
    ("unit", "8 oz of water", "8 ounces of water"),
    ("unit", "5 mL of water", "5 milliliters of water"),
    ("unit", "100 m sprint", "100 meters sprint"),
    ("unit", "5 g of sugar", "5 grams of sugar"),
    ("unit", "1 L of milk", "1 liter of milk"),
    ("unit", "100 km²", "100 square kilometers"),
    ("unit", "3 tbsp and 2 tsp", "3 tablespoons and 2 teaspoons"),
    ("unit", "Mix 1/2 tsp salt and 2 1/2 tsp sugar.", "Mix one half teaspoon salt and 2 and a half teaspoons sugar."),
    ("unit", "He ran 10-15 km.", "He ran 10 to 15 kilometers."),
    ("unit", "I'm 5'11\" and weigh 180 lbs.", "I'm 5 feet 11 inches and weigh 180 pounds."),
    ("unit", "30 dB", "30 decibels"),
    ("unit", "1.0 kg", "1 point zero kilograms"),
    ("unit", "5 ft 10 in tall", "5 feet 10 inches tall"),
    ("unit", "He is 6'2\" tall.", "He is 6 feet 2 inches tall."),
    ("unit", "a 3x speedup", "a 3 times speedup"),
    ("unit", "1920x1080 screen", "1920 by 1080 screen"),
    ("unit", "25℃", "25°C"),
    ("unit", "20ºC", "20°C"),
    # abbreviations
    ("abbreviation", "He lives on Main Dr. now.", "He lives on Main Drive now."),
    ("abbreviation", "I live on Baker St", "I live on Baker Street"),
    ("abbreviation", "I live at 12 Elm St. Then I moved.", "I live at 12 Elm Street. Then I moved."),
    ("abbreviation", "We met at 5th Ave. yesterday.", "We met at 5th Avenue yesterday."),
    ("abbreviation", "Dr. Smith lives on Oak Dr.", "Dr. Smith lives on Oak Drive."),
    ("abbreviation", "on Elm St., near", "on Elm Street, near"),
    ("abbreviation", "Mount St. Helens erupted.", "Mount St. Helens erupted."),
    ("abbreviation", "St. Louis is big.", "St. Louis is big."),
    ("abbreviation", "fruits, e.g. apples", "fruits, for example apples"),
    ("abbreviation", "(e.g., apples)", "(for example, apples)"),
    ("abbreviation", "fruit, i.e. apples", "fruit, that is apples"),
    ("abbreviation", "E.g. this one.", "For example this one."),
    ("abbreviation", "Bob, a.k.a. Rob", "Bob, also known as Rob"),
    ("abbreviation", "Roe v. Wade", "Roe versus Wade"),
    ("abbreviation", "apples, etc. and pears", "apples, etc and pears"),
    ("abbreviation", "I said no.", "I said No."),
    ("abbreviation", "See no. 5", "See no. 5"),
    ("abbreviation", "Apt. 5 is empty.", "Apartment 5 is empty."),
    ("abbreviation", "I love the Sun. It is warm.", "I love the sun. It is warm."),
    # symbols
    ("symbol", "I code in C# daily.", "I code in C sharp daily."),
    ("symbol", "a sonata in F# minor", "a sonata in F sharp minor"),
    ("symbol", "salt & pepper", "salt & pepper"),
    ("symbol", "~50 people", "about 50 people"),
    ("symbol", "100k users", "100 thousand users"),
    # addresses
    ("address", "jane.doe@example.com", "jane dot doe at example dot com"),
    ("address", "see https://example.com/page.", "see example dot com slash page."),
    ("address", "visit www.example.org today", "visit W W W dot example dot org today"),
    ("address", "mail john_smith@mail.co.uk", "mail john underscore smith at mail dot co dot uk"),
    # characters
    ("characters", "She said, “It’s fine.”", "She said, \"It's fine.\""),
    ("characters", "I’m fine 😀 really", "I'm fine really"),
    ("characters", "Great job!!! 🎉🎉", "Great job!!!"),
    ("characters", "✓ done ✗ failed", "done failed"),
    ("characters", "I ❤️ NY", "I NY"),
    ("characters", "a\u200bb\u2060c", "abc"),
]

# (category, raw text, the same words spelled out): the phonemes must match.
READS_AS = [
    ("cardinal", "I have 3 cats.", "I have three cats."),
    ("cardinal", "1,000 people", "one thousand people"),
    ("cardinal", "There were 1234 people.", "There were one thousand two hundred thirty four people."),
    ("cardinal", "It costs 250.", "It costs two hundred fifty."),
    ("cardinal", "about 1000000 stars", "about one million stars"),
    ("ordinal", "He came 1st.", "He came first."),
    ("ordinal", "the 22nd floor", "the twenty second floor"),
    ("ordinal", "the 103rd time", "the one hundred third time"),
    ("decimal", "It is 3.5 meters.", "It is three point five meters."),
    ("decimal", "version 3.0", "version three point zero"),
    ("decimal", "Pi is .5 now.", "Pi is zero point five now."),
    ("negative", "It was -5 degrees.", "It was minus five degrees."),
    ("negative", "from -10 to 5", "from minus ten to five"),
    ("range", "Read pages 5-10.", "Read pages five to ten."),
    ("range", "5-10% of them", "five to ten percent of them"),
    ("fraction", "Add 1/2 cup.", "Add one half cup."),
    ("fraction", "Add 3/4 cup.", "Add three quarters of a cup."),
    ("fraction", "It took 2 1/2 hours.", "It took two and a half hours."),
    ("fraction", "It's 1/3 done.", "It's one third done."),
    ("fraction", "open 24/7", "open twenty four seven"),
    ("percent", "About 45% agreed.", "About forty five percent agreed."),
    ("percent", "It rose 3.5% today.", "It rose three point five percent today."),
    ("currency", "It cost $4.5 million.", "It cost four point five million dollars."),
    ("currency", "It cost €12.50.", "It cost twelve euros and fifty cents."),
    ("currency", "It cost £3.", "It cost three pounds."),
    ("currency", "It cost ¥500.", "It cost five hundred yen."),
    ("currency", "Only $0.99!", "Only ninety nine cents!"),
    ("currency", "It cost $1,000,000.", "It cost one million dollars."),
    ("currency", "It cost $12.50.", "It cost twelve dollars and fifty cents."),
    ("currency", "It costs 100 USD.", "It costs one hundred dollars."),
    ("currency", "a $5bn deal", "a five billion dollars deal"),
    ("currency", "It costs 50¢.", "It costs fifty cents."),
    ("year", "in 2023", "in twenty twenty three"),
    ("year", "the 1990s", "the nineteen nineties"),
    ("year", "in 2000", "in two thousand"),
    ("year", "in 1905", "in nineteen oh five"),
    ("year", "in the '60s", "in the sixties"),
    ("date", "March 14th, 2023", "March fourteenth, twenty twenty three"),
    ("date", "2023-03-14", "March fourteenth, twenty twenty three"),
    ("date", "14/03/2023", "March fourteenth, twenty twenty three"),
    ("date", "Jan. 5, 2021", "January fifth, twenty twenty one"),
    ("date", "14 March 2023", "the fourteenth of March twenty twenty three"),
    ("time", "at 6:45 PM", "at six forty five P.M."),
    ("time", "at 18:30", "at eighteen thirty"),
    ("time", "at 9am", "at nine a.m."),
    ("time", "Meet at 9AM tomorrow.", "Meet at nine a.m. tomorrow."),
    ("time", "at 12:00", "at twelve o'clock"),
    ("time", "Meet at 9:05.", "Meet at nine oh five."),
    ("phone", "Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
    ("phone", "Call +1 555 123 4567.", "Call plus one, five five five, one two three, four five six seven."),
    ("unit", "It is 1 km away.", "It is one kilometer away."),
    ("unit", "It is 20°C.", "It is twenty degrees Celsius."),
    ("unit", "It is 70°F.", "It is seventy degrees Fahrenheit."),
    ("unit", "It's 90° now.", "It's ninety degrees now."),
    ("unit", "10 mins", "ten minutes"),
    ("abbreviation", "Dr. Smith is here.", "Doctor Smith is here."),
    ("abbreviation", "He lives on Main Dr. now.", "He lives on Main Drive now."),
    ("abbreviation", "St. Louis is big.", "Saint Louis is big."),
    ("abbreviation", "He lives on Baker St. now.", "He lives on Baker Street now."),
    ("abbreviation", "Mr. Jones", "Mister Jones"),
    ("abbreviation", "Ms. Jones", "Miz Jones"),
    ("abbreviation", "Prof. Lee", "Professor Lee"),
    ("abbreviation", "John Smith Jr. is here.", "John Smith Junior is here."),
    ("abbreviation", "John Smith Sr. is here.", "John Smith Senior is here."),
    ("abbreviation", "cats vs. dogs", "cats versus dogs"),
    ("abbreviation", "approx. 5", "approximately five"),
    ("abbreviation", "See No. 5", "See number five"),
    ("abbreviation", "fruits, e.g. apples", "fruits, for example apples"),
    ("abbreviation", "fruit, i.e. apples", "fruit, that is apples"),
    ("abbreviation", "I said no.", "I said no."),
    ("acronym", "the FBI and the CIA", "the F.B.I. and the C.I.A."),
    ("acronym", "HTML code", "H.T.M.L. code"),
    ("acronym", "the US economy", "the U.S. economy"),
    ("acronym", "NASA and NATO", "nasa and nato"),
    ("acronym", "UNESCO", "unesco"),
    ("acronym", "STOP THAT NOW", "stop that now"),
    ("acronym", "a LASER beam", "a laser beam"),
    ("symbol", "the #MeToo trend", "the hashtag MeToo trend"),
    ("symbol", "100%", "one hundred percent"),
    ("symbol", "AT&T", "A.T. and T."),
    ("symbol", "salt & pepper", "salt and pepper"),
    ("symbol", "5 + 3", "five plus three"),
    ("symbol", "me @ home", "me at home"),
    ("symbol", "#1 fan", "number one fan"),
    ("symbol", "C++ and C#", "C plus plus and C sharp"),
    ("symbol", "x = 5", "x equals five"),
    ("address", "jane.doe@example.com", "jane dot doe at example dot com"),
    ("leftover", "Agent 007", "Agent zero zero seven"),
    ("leftover", "a 4K TV", "a four K TV"),
    ("characters", "I’m fine 😀 really", "I'm fine really"),
]


@pytest.mark.parametrize("raw, expected", _cases(NORMALIZED))
def test_normalized(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw, spelled", _cases(READS_AS))
def test_reads_as(frontend: Frontend, raw: str, spelled: str) -> None:
    assert _loose(frontend.phonemize(raw)) == _loose(frontend.phonemize(spelled))


# -- markup passes through verbatim ------------------------------------------------------------
MARKUP = [
    "[Kokoro](/kˈOkəɹO/)",
    "[tomato](/təmˈɑːtəʊ/)",
    "[read](/ɹˈɛd/)",
    "[pause:0.5s]",
    "[pause:300ms]",
    "[PAUSE: 2s]",
    '<break time="500ms"/>',
    '<break time="1.5s" />',
    "<break strength='strong'/>",
    "<break/>",
    '<break time="2s"></break>',
]


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_kept_verbatim(markup: str) -> None:
    assert normalize(f"Say {markup} now.") == f"Say {markup} now."
    assert normalize(markup) == markup
    assert normalize(f"In 2023,{markup}it cost $5 ~ 5 km.") == f"In 2023,{markup}it cost $5 about 5 kilometers."


def test_markup_among_rules() -> None:
    raw = 'Dr. Smith said [hello](/həlˈO/) at 9AM <break time="500ms"/> then [pause:1s] left 😀.\n\nBye.'
    assert normalize(raw) == (
        'Dr. Smith said [hello](/həlˈO/) at 9 a.m. <break time="500ms"/> then [pause:1s] left.\n\nBye.'
    )


def test_markup_in_long_runs_and_private_use_input() -> None:
    run = "ab-" * 30 + "[x](/ɛks/)" + "-cd" * 30
    assert "[x](/ɛks/)" in normalize(run)
    assert normalize("a\ue000b [pause:1s] c\uf8ff") == "ab [pause:1s] c"
    assert normalize("a\ue000b c\uf8ff") == "ab c"


def test_markup_not_taken_for_links_or_tags() -> None:
    assert normalize("see [1] and <b>bold</b>") == "see [1] and <b>bold</b>"
