#!/usr/bin/env python3
"""Generate the validator test vectors in tests/vectors/ from the references.

Each file `tests/vectors/<name>.tsv` holds one `value<TAB>verdict` per line,
after a `#` header saying how it was made. The verdict is what the reference
says about the value:

* luhn, us_ssn, pl_pesel, ro_cnp, cn_ric, iban: python-stdnum 2.2's
  `is_valid` (1 valid, 0 invalid);
* ir_melli: `melli_valid` from the project's corpus reference
  (/work/shared/corpus/dlpref.py; stdnum 2.2 has no Iranian module), copied
  below;
* cards: the brand the corpus reference table assigns (`card_brand`, plus Mir)
  when stdnum's Luhn check also passes, else `none`.
* the 35 identifiers of the regional packs (issue 14; rules/regional-ids-*.yaml,
  tests/id_vectors.rs): the `is_valid` of the stdnum module each file's header
  names, and for the UK National Insurance number `nino_valid` below (HMRC
  NIM39110; stdnum has no module). These files are small (400-550 lines) and
  hold no value whose verdict depends on the day the script runs.

The values are built, not scraped: valid numbers get check digits computed
over random real components, then each kind gets targeted edge cases and
mutations (one digit changed, adjacent digits swapped, check digit changed,
impossible dates, every century/county/area code, ...). Mutations are not
assumed to be invalid; whatever the reference says is recorded.

All values are in the validators' input domain: *compact* (stdnum's own
`compact()` would at most upper-case them; nothing is stripped or mapped),
free of tabs and newlines, and never starting with `#`. A few non-ASCII values
are included; the script checks that the reference rejects every one of them,
since leakhound maps non-ASCII digits before validating and its validators
reject all non-ASCII bytes.

Deterministic: every file uses its own `random.Random` seeded from SEED and the
file name, and faker is seeded too, so the output depends only on this script
and the pinned package versions (python-stdnum 2.2, faker 40.54.0).

    .venv/bin/python tools/gen_vectors.py
"""

from __future__ import annotations

import datetime
import pathlib
import random
import re
import string
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import version

import faker
import stdnum
from stdnum import iban as std_iban
from stdnum import luhn as std_luhn
from stdnum import numdb
from stdnum.cn import ric as std_ric
from stdnum.es import ccc as std_ccc
from stdnum.pl import pesel as std_pesel
from stdnum.ro import cnp as std_cnp
from stdnum.us import ssn as std_ssn

SEED = 20250101
EXPECTED_VERSIONS = {'python-stdnum': '2.2', 'faker': '40.54.0'}
OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / 'tests' / 'vectors'
REGENERATE = '.venv/bin/python tools/gen_vectors.py'

ARABIC_INDIC_DIGITS = '٠١٢٣٤٥٦٧٨٩'
PERSIAN_DIGITS = '۰۱۲۳۴۵۶۷۸۹'


def rng_for(name: str) -> random.Random:
    # String seeds are hashed with SHA-512, independent of PYTHONHASHSEED.
    return random.Random(f'{SEED}-{name}')


def digits(rng: random.Random, count: int) -> str:
    return ''.join(rng.choice(string.digits) for _ in range(count))


# ----------------------------------------------------------------- references


def melli_valid(d: str) -> bool:
    """Copied verbatim from /work/shared/corpus/dlpref.py (melli_valid)."""
    if len(d) != 10 or not d.isdigit() or not d.isascii() or len(set(d)) == 1:
        return False
    r = sum(int(d[i]) * (10 - i) for i in range(9)) % 11
    c = int(d[9])
    return c == r if r < 2 else c == 11 - r


def card_brand(d: str) -> str | None:
    """The corpus reference table (dlpref.card_brand) plus Mir, as given in
    the validators brief. Luhn is checked separately."""
    if not d.isdigit() or not 12 <= len(d) <= 19:
        return None
    n = len(d)
    p2, p3, p4, p6 = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == '4':
        return 'card_visa' if n in (13, 16, 19) else None
    if p2 in (34, 37):
        return 'card_amex' if n == 15 else None
    if p2 in (36, 38) or 300 <= p3 <= 305:
        return 'card_diners' if n == 14 else None
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return 'card_mastercard' if n == 16 else None
    if 3528 <= p4 <= 3589:
        return 'card_jcb' if 16 <= n <= 19 else None
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925:
        return 'card_discover' if 16 <= n <= 19 else None
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return 'card_maestro' if 12 <= n <= 19 else None
    if 2200 <= p4 <= 2204:
        return 'card_mir' if 16 <= n <= 19 else None  # added: Mir
    if p2 == 62:
        return 'card_unionpay' if 16 <= n <= 19 else None
    return None


def card_verdict(value: str) -> str:
    brand = card_brand(value)
    return brand if brand and std_luhn.is_valid(value) else 'none'


def ric_is_valid(value: str) -> bool:
    """stdnum.cn.ric.is_valid, except that stdnum 2.2 raises KeyError (instead
    of returning False) when the birth place's province is known but its county
    is not. Such numbers are not valid."""
    try:
        return std_ric.is_valid(value)
    except KeyError:
        return False


# ----------------------------------------------------------------- mutations


def replace_at(value: str, index: int, char: str) -> str:
    return value[:index] + char + value[index + 1:]


def change_one_digit(rng: random.Random, value: str, positions: range | None = None) -> str:
    positions = positions if positions is not None else range(len(value))
    index = rng.choice([i for i in positions if value[i].isdigit()])
    return replace_at(value, index, rng.choice(string.digits.replace(value[index], '')))


def swap_adjacent(rng: random.Random, value: str) -> str | None:
    candidates = [i for i in range(len(value) - 1) if value[i] != value[i + 1]]
    if not candidates:
        return None
    i = rng.choice(candidates)
    return value[:i] + value[i + 1] + value[i] + value[i + 2:]


def change_last(rng: random.Random, value: str, alphabet: str = string.digits) -> str:
    return value[:-1] + rng.choice(alphabet.replace(value[-1], ''))


def format_mutations(rng: random.Random, value: str) -> list[str]:
    """Wrong lengths and wrong characters around a (usually valid) value."""
    return [
        value[:-1],
        value + rng.choice(string.digits),
        rng.choice(string.digits) + value,
        value[1:],
        replace_at(value, rng.randrange(len(value)), rng.choice('ABCXZabx')),
        replace_at(value, rng.randrange(len(value)), rng.choice('/+_:*=')),
    ]


def non_ascii(value: str) -> list[str]:
    """The value in Arabic-Indic and Persian digits, and with one non-ASCII
    letter: out of the validators' domain, and rejected by the references."""
    to_arabic = str.maketrans(string.digits, ARABIC_INDIC_DIGITS)
    to_persian = str.maketrans(string.digits, PERSIAN_DIGITS)
    return [value.translate(to_arabic), value.translate(to_persian), 'é' + value[1:]]


# ----------------------------------------------------------------- output


class VectorFile:
    def __init__(self, name: str, compact: Callable[[str], str] | None = None):
        self.name = name
        self.compact = compact
        self.values: dict[str, None] = {}  # insertion-ordered set

    def add(self, *values: str | None) -> None:
        for value in values:
            if value is not None:
                self.add_one(value)

    def extend(self, values: Iterable[str | None]) -> None:
        self.add(*values)

    def add_one(self, value: str) -> None:
        if any(c in value for c in '\t\n\r') or value.startswith('#'):
            sys.exit(f'{self.name}: value {value!r} cannot be written as TSV')
        if self.compact is not None and self.compact(value) not in (value, value.upper()):
            sys.exit(f'{self.name}: value {value!r} is not in compact form')
        self.values[value] = None

    def write(self, verdict: Callable[[str], str], reference: str, notes: list[str]) -> None:
        lines = []
        verdicts = {}
        for value in self.values:
            verdicts[value] = verdict(value)
            if not value.isascii() and verdicts[value] not in ('0', 'none'):
                sys.exit(f'{self.name}: reference accepts non-ASCII {value!r}')
            lines.append(f'{value}\t{verdicts[value]}')
        positive = sum(v not in ('0', 'none') for v in verdicts.values())
        header = [
            f'# {self.name}: value<TAB>{reference}',
            f'# Generated by tools/gen_vectors.py (seed {SEED}; python-stdnum {stdnum.__version__},'
            f' faker {faker.VERSION}). Regenerate with: {REGENERATE}',
            *[f'# {note}' for note in notes],
            f'# {len(lines)} vectors, {positive} valid.',
        ]
        path = OUT_DIR / f'{self.name}.tsv'
        path.write_text('\n'.join(header + lines) + '\n', encoding='utf-8')
        print(f'{path.name}: {len(lines)} vectors, {positive} valid')


def binary(is_valid: Callable[[str], bool]) -> Callable[[str], str]:
    return lambda value: '1' if is_valid(value) else '0'


# ----------------------------------------------------------------- Luhn


def luhn_complete(body: str) -> str:
    return body + std_luhn.calc_check_digit(body)


def gen_luhn() -> None:
    rng = rng_for('luhn')
    out = VectorFile('luhn')
    out.add('', '0', '00', '18', '0' * 19, '9' * 16, '78949', '7894', '0901', '9001')
    valid = []
    for length in range(1, 31):
        count = 80 if 12 <= length <= 19 else 30
        for _ in range(count):
            valid.append(luhn_complete(digits(rng, length - 1)))
    out.extend(valid)
    for value in rng.sample(valid, 500):
        out.add(change_one_digit(rng, value))
    for value in rng.sample(valid, 400):
        out.add(swap_adjacent(rng, value))
    for value in rng.sample(valid, 400):
        out.add(change_last(rng, value))
    for value in rng.sample([v for v in valid if len(v) > 2], 40):
        i = rng.randrange(1, len(value) - 1)
        out.add(value[:i] + ' ' + value[i:], value[:i] + '-' + value[i:], value + 'x')
        out.add(*non_ascii(value)[:2])
        out.add(value.translate(str.maketrans(string.digits, '０１２３４５６７８９')))
    out.write(binary(std_luhn.is_valid), 'stdnum.luhn.is_valid (1/0)', [
        'Luhn over ASCII digits, any length; empty and non-digit values are invalid.',
    ])


# ----------------------------------------------------------------- cards


def gen_cards() -> None:
    rng = rng_for('cards')
    out = VectorFile('cards')
    # (prefixes, lengths) around every boundary of the brand table.
    specs = [
        (['4'], range(11, 21)),
        (['34', '37', '33', '35'], range(13, 18)),
        (['36', '38', '300', '305', '306', '309', '39', '30'], range(12, 17)),
        (['51', '55', '50', '56', '2221', '2720', '2220', '2721', '2300', '2500'], range(14, 19)),
        (['3528', '3589', '3527', '3590', '3550'], range(14, 21)),
        (['6011', '6010', '6012', '644', '649', '643', '65', '622126', '622925', '622125',
          '622926', '6221'], range(14, 21)),
        (['5018', '5020', '5038', '5893', '6304', '6759', '6761', '6762', '6763', '6760',
          '5019', '6305'], range(11, 21)),
        (['2200', '2201', '2204', '2205', '2199'], range(14, 21)),
        (['62', '6200', '6212', '6229', '6280', '6299'], range(14, 21)),
        (['0', '1', '7', '8', '9', '31', '60', '61', '63', '64', '66', '69', '2'], range(11, 21)),
    ]
    for prefixes, lengths in specs:
        for prefix in prefixes:
            for length in lengths:
                for _ in range(2):
                    number = luhn_complete(prefix + digits(rng, length - len(prefix) - 1))
                    out.add(number)
                    if rng.random() < 0.5:
                        out.add(change_last(rng, number))
                    if card_brand(number):  # more of what the brands accept
                        out.extend(luhn_complete(prefix + digits(rng, length - len(prefix) - 1))
                                   for _ in range(4))
    fake = faker.Faker('en_US')
    fake.seed_instance(SEED)
    for card_type in ('visa13', 'visa16', 'visa19', 'mastercard', 'amex', 'discover', 'jcb15',
                      'jcb16', 'diners', 'maestro'):
        for _ in range(40):
            number = fake.credit_card_number(card_type=card_type)
            out.add(number, change_one_digit(rng, number))
    for number in list(out.values)[:600:12]:
        out.add(number[:4] + ' ' + number[4:], number[:4] + '-' + number[4:])
        out.add(non_ascii(number)[0])
    out.write(card_verdict, 'brand: card_brand() of the corpus reference table (plus Mir) '
              'when stdnum.luhn.is_valid also passes, else none', [
                  'For the engine\'s card classifier; tests/validators.rs does not read it.',
              ])


# ----------------------------------------------------------------- US SSN


SSN_BLACKLIST = ['078051120', '457555462', '219099999']


def gen_us_ssn() -> None:
    rng = rng_for('us_ssn')
    out = VectorFile('us_ssn', std_ssn.compact)

    def valid_area() -> int:
        while True:
            area = rng.randint(1, 899)
            if area != 666:
                return area

    def ssn(area: int, group: int, serial: int) -> str:
        return '%03d%02d%04d' % (area, group, serial)

    out.add('536904399', '', '666000000')
    out.add(*SSN_BLACKLIST)
    for number in SSN_BLACKLIST:
        for i in range(9):
            out.add(replace_at(number, i, str((int(number[i]) + 1) % 10)))
    for area in range(1000):  # every area, including 000, 666 and 900-999
        out.add(ssn(area, rng.randint(1, 99), rng.randint(1, 9999)))
    for area in (0, 665, 666, 667, 899, 900, 987, 999):
        for group, serial in ((0, 1), (1, 0), (1, 1), (99, 9999), (0, 0)):
            out.add(ssn(area, group, serial))
    for serial in range(4320, 4330):
        out.add('9876' + '5%04d' % serial)  # the 987-65-432x advertising block
    for _ in range(200):
        out.add(ssn(valid_area(), 0, rng.randint(1, 9999)))
        out.add(ssn(valid_area(), rng.randint(1, 99), 0))
    for group in range(100):
        out.add(ssn(valid_area(), group, rng.randint(1, 9999)))
    fake = faker.Faker('en_US')
    fake.seed_instance(SEED)
    out.extend(fake.ssn().replace('-', '') for _ in range(400))
    valid = [ssn(valid_area(), rng.randint(1, 99), rng.randint(1, 9999)) for _ in range(700)]
    out.extend(valid)
    for value in rng.sample(valid, 120):
        out.extend(format_mutations(rng, value))
    for value in rng.sample(valid, 10):
        out.extend(non_ascii(value))
    out.write(binary(std_ssn.is_valid), 'stdnum.us.ssn.is_valid (1/0)', [
        'Every area 000-999; group 00, serial 0000, the blacklisted numbers and their neighbours.',
    ])


# ----------------------------------------------------------------- PESEL


def pesel_encode(date: datetime.date, serial: str) -> str:
    month_offset = {18: 80, 19: 0, 20: 20, 21: 40, 22: 60}[date.year // 100]
    body = '%02d%02d%02d%s' % (date.year % 100, date.month + month_offset, date.day, serial)
    return body + std_pesel.calc_check_digit(body)


def pesel_raw(year2: int, month_code: int, day: int, serial: str) -> str:
    body = '%02d%02d%02d%s' % (year2, month_code, day, serial)
    return body + std_pesel.calc_check_digit(body)


def random_date(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return datetime.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def gen_pl_pesel() -> None:
    rng = rng_for('pl_pesel')
    out = VectorFile('pl_pesel', std_pesel.compact)
    out.add('44051401359', '44051401358', '02381307589', '02122401358', '02211307589', '')
    valid = []
    for century in (18, 19, 20, 21, 22):
        first = datetime.date(century * 100, 1, 1)
        last = datetime.date(century * 100 + 99, 12, 31)
        count = 500 if century in (19, 20) else 120
        valid += [pesel_encode(random_date(rng, first, last), digits(rng, 4)) for _ in range(count)]
    out.extend(valid)
    for month_code in range(100):  # every encoded month, valid or not
        for _ in range(2):
            out.add(pesel_raw(rng.randint(0, 99), month_code, rng.randint(1, 28), digits(rng, 4)))
    for offset in (0, 20, 40, 60, 80):
        for month in (1, 2, 4, 6, 9, 11, 12):
            for day in (0, 28, 29, 30, 31, 32):
                out.add(pesel_raw(rng.randint(0, 99), month + offset, day, digits(rng, 4)))
        for year2 in (0, 1, 4, 96, 99):  # February 29: 1800, 1900, 2100, 2200 are not leap
            out.add(pesel_raw(year2, 2 + offset, 29, digits(rng, 4)))
    for value in rng.sample(valid, 450):
        out.add(change_one_digit(rng, value, range(10)))
    for value in rng.sample(valid, 350):
        out.add(swap_adjacent(rng, value))
    for value in rng.sample(valid, 300):
        out.add(change_last(rng, value))
    for value in rng.sample(valid, 60):
        out.extend(format_mutations(rng, value))
    for value in rng.sample(valid, 5):
        out.extend(non_ascii(value))
    out.write(binary(std_pesel.is_valid), 'stdnum.pl.pesel.is_valid (1/0)', [
        'Every century encoding (month +80/+0/+20/+40/+60), every encoded month 00-99,',
        'February 29 in leap and non-leap years of each century. No date depends on today.',
    ])


# ----------------------------------------------------------------- CNP

CNP_COUNTIES = [c for c in range(100) if '%02d' % c in std_cnp._COUNTIES]
CNP_CENTURY = {'1': 19, '2': 19, '3': 18, '4': 18, '5': 20, '6': 20, '7': 19, '8': 19, '9': 19}


def cnp_complete(body: str) -> str:
    return body + std_cnp.calc_check_digit(body)


def cnp_body(first: str, year2: int, month: int, day: int, county: int, serial: str) -> str:
    return '%s%02d%02d%02d%02d%s' % (first, year2, month, day, county, serial)


def gen_ro_cnp() -> None:
    rng = rng_for('ro_cnp')
    out = VectorFile('ro_cnp', std_cnp.compact)
    out.add('1630615123457', '0800101221142', '1632215123457', '1630615993454', '1630615123458', '')
    valid = []
    for _ in range(1100):
        first = rng.choice('123456789')
        century = CNP_CENTURY[first]
        date = random_date(rng, datetime.date(century * 100, 1, 1),
                           datetime.date(century * 100 + 99, 12, 31))
        body = cnp_body(first, date.year % 100, date.month, date.day, rng.choice(CNP_COUNTIES),
                        digits(rng, 3))
        valid.append(cnp_complete(body))
    out.extend(valid)
    for county in range(100):  # every county code, known or not
        for _ in range(3):
            out.add(cnp_complete(cnp_body(rng.choice('123456789'), rng.randint(0, 99),
                                          rng.randint(1, 12), rng.randint(1, 28), county,
                                          digits(rng, 3))))
    for first in '0123456789':  # every first digit against leap years of each century
        for year2, month, day in ((0, 2, 29), (4, 2, 29), (0, 2, 28), (1, 2, 29), (99, 12, 31),
                                  (50, 6, 15), (0, 13, 1), (0, 0, 1), (0, 4, 31), (0, 1, 0),
                                  (0, 1, 32)):
            for _ in range(2):
                out.add(cnp_complete(cnp_body(first, year2, month, day,
                                              rng.choice(CNP_COUNTIES), digits(rng, 3))))
    # Remainder 10 gives check digit 1; 0 is then wrong.
    remainder_ten = []
    while len(remainder_ten) < 60:
        body = valid[rng.randrange(len(valid))][:9] + digits(rng, 3)
        if sum(w * int(d) for w, d in zip((2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9), body)) % 11 == 10:
            remainder_ten.append(body)
    for body in remainder_ten:
        out.add(body + '1', body + '0')
    for value in rng.sample(valid, 400):
        out.add(change_one_digit(rng, value, range(12)))
    for value in rng.sample(valid, 300):
        out.add(swap_adjacent(rng, value))
    for value in rng.sample(valid, 300):
        out.add(change_last(rng, value))
    for value in rng.sample(valid, 60):
        out.extend(format_mutations(rng, value))
    for value in rng.sample(valid, 5):
        out.extend(non_ascii(value))
    out.write(binary(std_cnp.is_valid), 'stdnum.ro.cnp.is_valid (1/0)', [
        'Every first digit 0-9, every county code 00-99, February 29 per century, check',
        'digits for remainder 10. stdnum does not compare the date with today (it has a TODO).',
    ])


# ----------------------------------------------------------------- Chinese RIC


def ric_complete(body: str) -> str:
    return body + std_ric.calc_check_digit(body + '0')


def cn_region_table() -> tuple[dict[str, list[tuple[int, int]]], set[str]]:
    """Codes in stdnum's loc.dat with their [start-end] year ranges (0/9999
    for open bounds) and the set of province prefixes."""
    db = numdb.get('cn/loc')
    regions: dict[str, list[tuple[int, int]]] = {}
    provinces = set()
    for _length, province, _high, _props, counties in db.prefixes:
        provinces.add(province)
        for _length, county, _high, props, _children in counties:
            ranges = []
            for name in props['county'].split(','):
                if not name.startswith('['):
                    ranges.append((0, 9999))
                    continue
                start, end = name[1:].split(']')[0].split('-')
                ranges.append((int(start) if start else 0, int(end) if end else 9999))
            regions.setdefault(province + county, []).extend(ranges)
    return regions, provinces


def gen_cn_ric() -> None:
    rng = rng_for('cn_ric')
    out = VectorFile('cn_ric', std_ric.compact)
    regions, provinces = cn_region_table()
    codes = sorted(regions)

    def ric(code: str, date: datetime.date | tuple[int, int, int], order: str | None = None) -> str:
        if isinstance(date, datetime.date):
            date = (date.year, date.month, date.day)
        return ric_complete('%s%04d%02d%02d%s' % (code, *date, order or digits(rng, 3)))

    def year_for(code: str) -> int | None:
        ranges = [(max(first, 1900), min(last, 2025)) for first, last in regions[code]]
        ranges = [(first, last) for first, last in ranges if first <= last]
        if not ranges:
            return None
        first, last = rng.choice(ranges)
        return rng.randint(first, last)

    out.add('360426199101010071', '')
    valid = []
    for code in rng.sample(codes, 1300):
        year = year_for(code)
        if year is not None:
            valid.append(ric(code, random_date(rng, datetime.date(year, 1, 1),
                                               datetime.date(year, 12, 31))))
    out.extend(valid)
    with_x = [v for v in valid if v.endswith('X')]
    out.extend(v[:-1] + 'x' for v in with_x)  # stdnum upper-cases: lower-case x is valid
    # Year ranges: each bound and one year beyond it.
    bounded = [(code, first, last) for code in codes for first, last in regions[code]
               if (first, last) != (0, 9999)]
    for code, first, last in rng.sample(bounded, 250):
        for year in (first - 1, first, last, last + 1):
            if 1 <= year <= 9999:
                out.add(ric(code, (year, 6, 15)))
    # Codes loc.dat lists but stdnum never accepts (empty ranges like [1983-1982]).
    for code in codes:
        if all(first > last for first, last in regions[code]):
            out.add(ric(code, (1983, 1, 1)), ric(code, (1982, 12, 31)))
    # Absent codes: known province with unknown county (stdnum raises KeyError),
    # and unknown provinces.
    absent_in_known_province = [p + '%04d' % rng.randint(0, 9999) for p in sorted(provinces)
                                for _ in range(6)]
    absent_in_known_province = [c for c in absent_in_known_province if c not in regions]
    for code in absent_in_known_province:
        out.add(ric(code, (1990, 1, 1)))
    for province in range(100):
        if '%02d' % province not in provinces:
            out.add(ric('%02d%04d' % (province, rng.randint(0, 9999)), (1990, 1, 1)))
    # Dates, on codes valid in every year.
    open_codes = [c for c in codes if (0, 9999) in regions[c]]
    for date in ((2000, 2, 29), (1900, 2, 29), (2100, 2, 29), (1996, 2, 29), (1999, 2, 29),
                 (1990, 2, 30), (1990, 13, 1), (1990, 0, 1), (1990, 1, 0), (1990, 1, 31),
                 (1990, 1, 32), (1990, 4, 31), (1990, 6, 30), (1990, 9, 31), (1990, 11, 30),
                 (0, 1, 1), (1, 1, 1), (9999, 12, 31), (1582, 10, 10), (2099, 12, 31)):
        for _ in range(8):
            out.add(ric(rng.choice(open_codes), date))
    for value in rng.sample(valid, 350):
        out.add(change_one_digit(rng, value, range(17)))
    for value in rng.sample(valid, 250):
        out.add(swap_adjacent(rng, value))
    for value in rng.sample(valid, 300):
        out.add(change_last(rng, value, string.digits + 'X'))
    for value in rng.sample(valid, 50):
        out.extend(format_mutations(rng, value))
        out.add(value[:-1] + rng.choice('YZA'), replace_at(value, rng.randrange(17), 'X'))
    for value in rng.sample(valid, 5):
        out.extend(non_ascii(value))
    key_errors = 0
    for value in out.values:
        try:
            std_ric.is_valid(value)
        except KeyError:
            key_errors += 1
    out.write(binary(ric_is_valid), 'stdnum.cn.ric.is_valid (1/0)', [
        'Region codes from loc.dat (including each [start-end] bound and the year beyond),',
        'absent codes, check character X and x, impossible dates, year 0000.',
        f'{key_errors} values with a known province but an unknown county make stdnum 2.2 raise',
        'KeyError instead of returning False; they are recorded as 0 (not valid).',
    ])


# ----------------------------------------------------------------- Iranian national code


def melli_complete(body: str) -> str:
    r = sum(int(body[i]) * (10 - i) for i in range(9)) % 11
    return body + str(r if r < 2 else 11 - r)


def gen_ir_melli() -> None:
    rng = rng_for('ir_melli')
    out = VectorFile('ir_melli')
    out.add(*(d * 10 for d in string.digits), '')
    # Real codes often start with 00 (Tehran); give those extra weight.
    valid = [melli_complete('00' + digits(rng, 7) if rng.random() < 0.3 else digits(rng, 9))
             for _ in range(1400)]
    out.extend(valid)
    for d in string.digits:  # one digit away from a repdigit
        for i in range(10):
            out.add(replace_at(d * 10, i, str((int(d) + 1) % 10)))
            out.add(melli_complete(replace_at(d * 9, i % 9, str((int(d) + 3) % 10))))
    for value in rng.sample(valid, 450):
        out.add(change_one_digit(rng, value, range(9)))
    for value in rng.sample(valid, 400):
        out.add(swap_adjacent(rng, value))
    for value in rng.sample(valid, 400):
        out.add(change_last(rng, value))
    for value in rng.sample(valid, 60):
        out.extend(format_mutations(rng, value))
    for value in rng.sample(valid, 10):
        out.extend(non_ascii(value))
    out.write(binary(melli_valid), 'dlpref.melli_valid (1/0); stdnum 2.2 has no Iranian module', [
        'Check digit remainders 0 and 1, all ten repdigits (rejected even when the sum fits).',
    ])


# ----------------------------------------------------------------- IBAN


def iban_registry() -> dict[str, str]:
    """Country code -> BBAN structure, expanded per position (n/a/c)."""
    registry = {}
    for _length, code, _high, props, _children in numdb.get('iban').prefixes:
        registry[code] = ''.join(kind * int(count) for count, kind
                                 in re.findall(r'([1-9][0-9]*)!([nac])', props['bban']))
    return registry


def random_bban(rng: random.Random, structure: str) -> str:
    pools = {'n': string.digits, 'a': string.ascii_uppercase,
             'c': string.digits + string.ascii_uppercase}
    return ''.join(rng.choice(pools[kind]) for kind in structure)


def with_check_digits(country: str, bban: str) -> str:
    return country + std_iban.calc_check_digits(country + '00' + bban) + bban


def belgian_bban(rng: random.Random, bank_codes: list[int]) -> str:
    body = '%03d' % rng.choice(bank_codes) + digits(rng, 7)
    return body + '%02d' % (int(body) % 97 or 97)


def spanish_bban(rng: random.Random) -> str:
    number = digits(rng, 8) + '00' + digits(rng, 10)
    return number[:8] + std_ccc.calc_check_digits(number) + number[10:]


def montenegrin_bban(rng: random.Random) -> str:
    body = digits(rng, 16)
    return body + '%02d' % (98 - int(body + '00') % 97)


def norwegian_bban(rng: random.Random) -> str:
    if rng.random() < 0.25:  # Postgiro: bank code 0000, Luhn over the rest
        return '0000' + luhn_complete(digits(rng, 6))
    while True:
        body = digits(rng, 10)
        if body.startswith('0000'):
            continue
        check = sum(w * int(d) for w, d in zip((6, 7, 8, 9, 4, 5, 6, 7, 8, 9), body)) % 11
        if check < 10:
            return body + str(check)


def gen_iban() -> None:
    rng = rng_for('iban')
    out = VectorFile('iban', std_iban.compact)
    registry = iban_registry()
    be_banks = numdb.get('be/banks')
    known_be_banks = [c for c in range(1000) if be_banks.info('%03d' % c)[0][1]]
    unknown_be_banks = [c for c in range(1000) if c not in known_be_banks]
    national = {
        'BE': lambda: belgian_bban(rng, known_be_banks),
        'ES': lambda: spanish_bban(rng),
        'ME': lambda: montenegrin_bban(rng),
        'NO': lambda: norwegian_bban(rng),
    }
    out.add('GR1601101050000010547023795', 'BE31435411161155', 'BE32123456789002',
            'BE41091811735141', 'BE83138811735115', 'ES7712341234161234567890',
            'ES1212341234161234567890', 'ES1512341234171234567890', 'ME25510000000006234133',
            'ME52510000000006234132', 'NO9386011117947', 'NO9286011117947', 'NO2386011117946',
            'GB82WEST12345698765432', '', 'G', 'GB', 'GB82', 'GB82WEST')
    for country, structure in sorted(registry.items()):
        make_bban = national.get(country, lambda: random_bban(rng, structure))
        valid = [with_check_digits(country, make_bban()) for _ in range(12)]
        out.extend(valid)
        out.add(valid[0].lower(), valid[1][:2].lower() + valid[1][2:],
                ''.join(c.lower() if rng.random() < 0.5 else c for c in valid[2]))
        if country in national:  # right IBAN check digits, national check not enforced
            for _ in range(10):
                out.add(with_check_digits(country, random_bban(rng, structure)))
        for value in valid[:3]:
            bban = value[4:]
            # One character too few or too many, with matching check digits.
            out.add(with_check_digits(country, bban[:-1]),
                    with_check_digits(country, bban + random_bban(rng, structure[-1])))
            # A character of the wrong class, with matching check digits.
            index = rng.randrange(len(structure))
            wrong = {'n': 'ABCXYZ', 'a': '0123456789', 'c': None}[structure[index]]
            if wrong:
                out.add(with_check_digits(country, replace_at(bban, index, rng.choice(wrong))))
        for value in valid[3:6]:
            check = int(value[2:4])
            out.add(value[:2] + '%02d' % ((check + rng.randint(1, 96)) % 97) + value[4:])
        for value in valid[6:9]:
            out.add(swap_adjacent(rng, value), change_one_digit(rng, value, range(4, len(value))))
        # Check digits that only the remainder accepts: 99 for 02, 00 for 97, 01 for 98.
        for value in valid:
            alternative = {'02': '99', '97': '00', '98': '01'}.get(value[2:4])
            if alternative:
                out.add(value[:2] + alternative + value[4:])
        # Letters where the check digits belong (valid when the remainder works out).
        value = valid[9]
        letters = [value[:2] + a + b + value[4:] for a in string.ascii_uppercase
                   for b in string.ascii_uppercase + string.digits]
        accepted = [v for v in letters if std_iban.is_valid(v)]
        out.extend(rng.sample(accepted, min(2, len(accepted))))
        out.extend(rng.sample(letters, 2))
        out.add(value[:4] + value[4:-1] + '!', value[:4] + 'É' + value[5:])
    # Norwegian accounts: Postgiro (0000) failing Luhn, and weighted sums with
    # remainder 10, which no check digit satisfies.
    for _ in range(15):
        postgiro = '0000' + luhn_complete(digits(rng, 6))
        out.add(with_check_digits('NO', change_last(rng, postgiro)))
        while True:
            body = digits(rng, 10)
            if sum(w * int(d) for w, d in zip((6, 7, 8, 9, 4, 5, 6, 7, 8, 9), body)) % 11 == 10:
                break
        out.add(with_check_digits('NO', body + rng.choice('01')))
    # Belgian numbers with a correct national check but an unknown bank code.
    for _ in range(20):
        body = '%03d' % rng.choice(unknown_be_banks) + digits(rng, 7)
        out.add(with_check_digits('BE', body + '%02d' % (int(body) % 97 or 97)))
    # Countries outside the registry (UK is not GB, EL is not GR), digits as
    # country, with correct MOD 97-10 check digits.
    for country in ('US', 'CA', 'JP', 'AU', 'UK', 'EL', 'XX', 'AA', 'ZZ', 'IN', 'CN', '12', '00'):
        for length in (16, 22, 27):
            out.add(with_check_digits(country, digits(rng, length - 4)))
    # faker's IBANs for a few locales (faker does not compute national checks).
    fake = faker.Faker(['en_GB', 'de_DE', 'fr_FR', 'es_ES', 'it_IT', 'nl_NL', 'nl_BE', 'pl_PL',
                        'pt_PT', 'no_NO', 'fi_FI', 'de_AT', 'de_CH', 'cs_CZ', 'hu_HU'])
    fake.seed_instance(SEED)
    out.extend(fake.iban() for _ in range(150))
    out.write(binary(std_iban.is_valid), 'stdnum.iban.is_valid (1/0), national checks included', [
        'Every registry country: valid, lower-case, wrong length, wrong character class, wrong',
        'check digits; check digits 99/00/01 and letters (stdnum only tests the remainder);',
        'national checks for BE, ES, ME, NO; non-registry countries.',
    ])


# ================================================================= issue 14: thirty-five more IDs
#
# One file per identifier, named after the rule's kind. Each generator builds
# valid numbers from real components (dates, serials, region and office codes)
# with the reference's own check-digit function where it has one, adds the
# identifier's specific invalid cases (forbidden values, impossible dates,
# unassigned components), then the common mutations. Every verdict is what
# the reference's is_valid says. Dates of birth stay in 1900-2024 (or the
# range the number can encode) so that no verdict depends on today: several
# references reject dates in the future or infer the century from today.
# Files stay small (a few hundred lines) so that a reviewer can read them.


def id_file(name: str, compact: Callable[[str], str] | None) -> VectorFile:
    return VectorFile(name, compact)


def is_compact(out: VectorFile, value: str) -> bool:
    return out.compact is None or out.compact(value) in (value, value.upper())


def add_mutations(out: VectorFile, rng: random.Random, valid: list[str], *,
                  check_alphabet: str = string.digits, check_len: int = 1,
                  shorter: bool = True, foreign_digits: bool = True) -> None:
    """The common mutations of valid numbers: one digit changed, two adjacent
    characters swapped, the check character(s) changed, wrong lengths and
    characters, non-ASCII digits (unless foreign_digits is False: references
    whose regular expressions take any Unicode digit for \\d accept them).
    Mutations the reference's compact() would
    rewrite (a separator it strips, a leading zero it pads) are left out: the
    files hold compact values only."""
    picks = min(len(valid), 60)
    candidates: list[str | None] = []
    for value in rng.sample(valid, picks):
        if any(c.isdigit() for c in value):
            candidates.append(change_one_digit(rng, value))
    for value in rng.sample(valid, min(len(valid), 50)):
        candidates.append(swap_adjacent(rng, value))
    for value in rng.sample(valid, min(len(valid), 50)):
        head, tail = value[:-check_len], value[-check_len:]
        i = rng.randrange(check_len)
        candidates.append(head + replace_at(tail, i, rng.choice(check_alphabet.replace(tail[i], ''))))
    for value in rng.sample(valid, min(len(valid), 10)):
        mutations = format_mutations(rng, value)
        if not shorter:
            mutations = [m for m in mutations if len(m) >= len(value)]
        candidates.extend(mutations)
    for value in rng.sample(valid, 3):
        candidates.extend(non_ascii(value) if foreign_digits else non_ascii(value)[2:])
    for value in candidates:
        if value is not None and is_compact(out, value):
            if shorter or len(value) >= len(valid[0]):
                out.add(value)


def raising(is_valid: Callable[[str], bool], values: Iterable[str]) -> int:
    count = 0
    for value in values:
        try:
            is_valid(value)
        except Exception:  # noqa: BLE001 - any exception is a reference defect
            count += 1
    return count


def safe_binary(is_valid: Callable[[str], bool]) -> Callable[[str], str]:
    """binary(), recording a value that makes the reference raise as invalid."""
    def verdict(value: str) -> str:
        try:
            return '1' if is_valid(value) else '0'
        except Exception:  # noqa: BLE001
            return '0'
    return verdict


def write_id(out: VectorFile, is_valid: Callable[[str], bool], reference: str,
             notes: list[str]) -> None:
    errors = raising(is_valid, out.values)
    if errors:
        notes = notes + [f'{errors} values make the reference raise instead of returning False;'
                         ' they are recorded as 0 (not valid).']
    out.write(safe_binary(is_valid), reference, notes)


BIRTH_FIRST = datetime.date(1900, 1, 1)
BIRTH_LAST = datetime.date(2024, 12, 31)


def birth(rng: random.Random, first: datetime.date = BIRTH_FIRST,
          last: datetime.date = BIRTH_LAST) -> datetime.date:
    return random_date(rng, first, last)


def drop_future(out: VectorFile, birth_date: Callable[[str], datetime.date]) -> None:
    """Remove values whose birth date is after 2024: the reference rejects a
    date after today, so their verdict would change as time passes."""
    for value in list(out.values):
        try:
            born = birth_date(value)
        except Exception:  # noqa: BLE001 - no date: the verdict does not depend on today
            continue
        if born > BIRTH_LAST:
            del out.values[value]


def complete_until(rng: random.Random, make: Callable[[], str | None]) -> str:
    """Call make() until it returns a number (some bodies have no check digit)."""
    while True:
        value = make()
        if value is not None:
            return value


# ----------------------------------------------------------------- Germany, Steuer-IdNr


def gen_de_idnr() -> None:
    from stdnum.de import idnr
    from stdnum.iso7064 import mod_11_10
    rng = rng_for('de_idnr')
    out = id_file('de_idnr', idnr.compact)

    def body(repeat: int, distinct_first: bool = True) -> str:
        while True:
            twice = rng.choice(string.digits)
            others = rng.sample([d for d in string.digits if d != twice], 10 - repeat)
            chars = others + [twice] * repeat
            rng.shuffle(chars)
            if chars[0] != '0' or not distinct_first:
                return ''.join(chars)

    valid = [(lambda b: b + mod_11_10.calc_check_digit(b))(body(rng.choice((2, 2, 3))))
             for _ in range(160)]
    out.add('36574261809', '86095742719', '65929970489', '')
    out.extend(valid)
    for repeat in (1, 4, 5):  # one digit repeated once (all distinct), 4 or 5 times
        for _ in range(8):
            b = body(repeat)
            out.add(b + mod_11_10.calc_check_digit(b))
    for _ in range(8):  # two different digits repeated
        chars = rng.sample(string.digits, 8)
        b = ''.join(chars + chars[1:3])
        if b[0] != '0':
            out.add(b + mod_11_10.calc_check_digit(b))
    for _ in range(8):  # a leading zero
        b = '0' + body(2)[1:]
        out.add(b + mod_11_10.calc_check_digit(b))
    add_mutations(out, rng, valid)
    write_id(out, idnr.is_valid, 'stdnum.de.idnr.is_valid (1/0)', [
        'First digit not 0; in the first ten digits one digit appears two or three times and',
        'the others once; ISO 7064 MOD 11,10 check digit.',
    ])


# ----------------------------------------------------------------- France, NIR


def gen_fr_nir() -> None:
    from stdnum.fr import nir
    rng = rng_for('fr_nir')
    out = id_file('fr_nir', nir.compact)

    def make(sex: str | None = None, dept: str | None = None) -> str:
        date = birth(rng)
        sex = sex or rng.choice('1212123478')
        month = '%02d' % date.month if rng.random() < 0.9 else rng.choice(('20', '30', '42', '50'))
        if dept is None:
            dept = rng.choice(['%02d' % rng.randint(1, 95), '2A', '2B', '97', '99'])
        commune = '%03d' % (rng.randint(401, 499) if dept == '97' else rng.randint(1, 990))
        b = sex + '%02d' % (date.year % 100) + month + dept + commune + '%03d' % rng.randint(1, 999)
        return b + nir.calc_check_digits(b)

    valid = [make() for _ in range(180)]
    out.add('295109912611193', '253072B07300470', '253072A07300443', '')
    out.extend(valid)
    for dept in ('2C', '2a', '2b', 'AB', '3A', '0A'):
        for _ in range(3):
            v = make(dept='2A' if dept.upper() == '2A' else '2B')
            out.add(v[:5] + dept + v[7:])
    for value in rng.sample(valid, 10):  # the key written without its leading zero
        out.add(value[:13] + '00', value[:13] + '97', value[:13] + '98')
    add_mutations(out, rng, valid, check_len=2)
    write_id(out, nir.is_valid, 'stdnum.fr.nir.is_valid (1/0)', [
        'Sex, year, month (including 20 and 30-42 as issued), department (01-95, 2A, 2B, 97, 99),',
        'commune, order and the key 97 - (number mod 97), with 2A as 19 and 2B as 18.',
        'stdnum checks the key and the character classes only, not the month or department.',
    ])


# ----------------------------------------------------------------- Italy, codice fiscale

CF_MONTHS = 'ABCDEHLMPRST'
CF_OMOCODIA = 'LMNPQRSTUV'
CF_PLACES = ['H501', 'F205', 'L219', 'F839', 'G273', 'A944', 'D612', 'L736', 'Z404', 'Z133',
             'Z112', 'A662', 'C351', 'E506', 'B354']


def gen_it_codicefiscale() -> None:
    from stdnum.it import codicefiscale as cf
    rng = rng_for('it_codicefiscale')
    out = id_file('it_codicefiscale', cf.compact)

    def letters(n: int) -> str:
        return ''.join(rng.choice(string.ascii_uppercase) for _ in range(n))

    def make(date: datetime.date | None = None, female: bool | None = None,
             omocodia: int = 0, month: str | None = None, day: int | None = None) -> str:
        date = date or birth(rng, datetime.date(1920, 1, 1), BIRTH_LAST)
        female = rng.random() < 0.5 if female is None else female
        d = day if day is not None else date.day + (40 if female else 0)
        b = (letters(6) + '%02d' % (date.year % 100) + (month or CF_MONTHS[date.month - 1])
             + '%02d' % d + rng.choice(CF_PLACES))
        # Omocodia: digits replaced from the right by L-V to tell apart people
        # whose codes would collide.
        chars = list(b)
        for pos in [14, 13, 12, 10, 9, 7, 6][:omocodia]:
            chars[pos] = CF_OMOCODIA[int(chars[pos])]
        b = ''.join(chars)
        return b + cf.calc_check_digit(b)

    valid = [make() for _ in range(150)]
    valid += [make(omocodia=rng.randint(1, 7)) for _ in range(30)]
    out.add('RCCMNL83S18D969H', 'CNTCHR83T41D969D', 'MRTMTT91D08F205J', 'MLLSNT82P65Z404U', '')
    out.extend(valid)
    for month in 'FGIJKNOQUVWXYZ':  # not a month letter
        out.add(make(month=month))
    for day in (0, 32, 39, 40, 72, 79):
        out.add(make(day=day))
    for month, day in (('B', 29), ('B', 30), ('D', 31), ('H', 31), ('P', 31), ('S', 31),
                       ('B', 69), ('B', 70)):
        for year in (0, 1, 4, 23):
            date_year = 2000 + year
            b = letters(6) + '%02d' % (date_year % 100) + month + '%02d' % day + 'H501'
            out.add(b + cf.calc_check_digit(b))
    for value in rng.sample(valid, 20):  # a digit where a letter belongs and back
        out.add(replace_at(value, 2, rng.choice(string.digits)))
        out.add(replace_at(value, 11, rng.choice(string.digits)))
        out.add(value.lower())
    add_mutations(out, rng, valid, check_alphabet=string.ascii_uppercase)
    write_id(out, cf.is_valid, 'stdnum.it.codicefiscale.is_valid (1/0)', [
        'Personal codes only (16 characters; stdnum also accepts an 11-digit partita IVA, a',
        'different identifier). Month letters, day +40 for women, omocodia (digits replaced',
        'by L-V), odd/even check character; years read as 1920-2019.',
    ])


# ----------------------------------------------------------------- Spain, DNI and NIE

DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE'


def gen_es_dni() -> None:
    from stdnum.es import dni
    rng = rng_for('es_dni')
    out = id_file('es_dni', dni.compact)
    valid = [(lambda b: b + dni.calc_check_digit(b))(digits(rng, 8)) for _ in range(200)]
    out.add('54362315K', '00000000T', '99999999R', '12345678Z', '')
    out.extend(valid)
    for value in rng.sample(valid, 20):
        out.add(value[:-1] + rng.choice('IOUÑ'.replace('Ñ', 'O')), value.lower())
        out.add(value[:-1] + '0')
    add_mutations(out, rng, valid, check_alphabet=DNI_LETTERS)
    write_id(out, dni.is_valid, 'stdnum.es.dni.is_valid (1/0)', [
        '8 digits and the letter TRWAGMYFPDXBNJZSQVHLCKE[number mod 23].',
    ])


def gen_es_nie() -> None:
    from stdnum.es import nie
    rng = rng_for('es_nie')
    out = id_file('es_nie', nie.compact)
    valid = [(lambda b: b + nie.calc_check_digit(b))(rng.choice('XYZ') + digits(rng, 7))
             for _ in range(200)]
    out.add('X2482300W', 'X2482300A', 'Y0000000Z', '')
    out.extend(valid)
    for value in rng.sample(valid, 20):
        out.add(rng.choice('ABCKLMW') + value[1:], value.lower())
        out.add(value[0] + '0' + value[1:])
    add_mutations(out, rng, valid, check_alphabet=DNI_LETTERS)
    write_id(out, nie.is_valid, 'stdnum.es.nie.is_valid (1/0)', [
        'X, Y or Z (as 0, 1, 2), 7 digits and the DNI letter of the 8-digit number.',
    ])


# ----------------------------------------------------------------- Netherlands, BSN


def elfproef(body: str, weights: Iterable[int], last_weight: int = -1) -> str | None:
    total = sum(w * int(d) for w, d in zip(weights, body))
    for check in string.digits:
        if (total + last_weight * int(check)) % 11 == 0:
            return body + check
    return None


def gen_nl_bsn() -> None:
    from stdnum.nl import bsn
    rng = rng_for('nl_bsn')
    out = id_file('nl_bsn', None)  # stdnum pads short numbers with zeros: 9 digits only here
    valid = [complete_until(rng, lambda: elfproef(digits(rng, 8), range(9, 1, -1)))
             for _ in range(200)]
    out.add('111222333', '123456782', '000000000', '000000012', '')
    out.extend(valid)
    add_mutations(out, rng, valid, shorter=False)
    write_id(out, bsn.is_valid, 'stdnum.nl.bsn.is_valid (1/0)', [
        '9 digits, the eleven test with weights 9..2 and -1; all zeros is invalid. stdnum pads',
        'shorter numbers with zeros; those are left out (a rule matches 9 digits).',
    ])


# ----------------------------------------------------------------- Belgium, national number


def be_nn_complete(body: str, century: int) -> str:
    n = int(body) if century == 1900 else int('2' + body)
    return body + '%02d' % (97 - n % 97)


def gen_be_nn() -> None:
    from stdnum.be import nn
    rng = rng_for('be_nn')
    out = id_file('be_nn', nn.compact)

    def make(date: datetime.date, month_offset: int = 0, day: int | None = None) -> str:
        b = '%02d%02d%02d%03d' % (date.year % 100, date.month + month_offset,
                                  date.day if day is None else day, rng.randint(1, 998))
        return be_nn_complete(b, date.year // 100 * 100)

    # 2000s births only up to 2024: stdnum tries the 2000s reading only for years up to today.
    valid = [make(birth(rng)) for _ in range(170)]
    valid += [make(birth(rng), rng.choice((20, 40))) for _ in range(20)]  # bis numbers
    out.add('85073003328', '17073003384', '00000100195', '00000100364', '00000000000', '')
    out.extend(valid)
    for month in (0, 13, 19, 20, 32, 33, 52, 53, 60, 99):
        for century in (1900, 2000):
            b = '%02d%02d%02d%03d' % (rng.randint(0, 24), month, rng.randint(1, 28),
                                      rng.randint(1, 998))
            out.add(be_nn_complete(b, century))
    for day in (0, 30, 31, 32):  # unknown day: stdnum accepts day 0 and days past the month end
        b = '%02d02%02d%03d' % (rng.randint(30, 99), day, rng.randint(1, 998))
        out.add(be_nn_complete(b, 1900))
    for value in rng.sample(valid, 10):  # a 1900s key on a 2000s number and vice versa
        out.add(be_nn_complete(value[:9], 2000 if value[-2:] == be_nn_complete(value[:9], 1900)[-2:]
                               else 1900))
    add_mutations(out, rng, valid, check_len=2)
    # A number whose key fits only the 2000s reading of a year after 2024 is
    # invalid today and valid once that year comes: left out, like future dates.
    for value in list(out.values):
        if (len(value) == 11 and value.isdigit() and value.isascii() and int(value[:2]) > 24
                and be_nn_complete(value[:9], 2000) == value
                and be_nn_complete(value[:9], 1900) != value):
            del out.values[value]
    write_id(out, nn.is_valid, 'stdnum.be.nn.is_valid (1/0)', [
        'Date YYMMDD (bis numbers: month +20 or +40; month 00 and day 00 for unknown parts),',
        'serial, key 97 - (n mod 97) with n prefixed by 2 for births from 2000. Births only',
        'up to 2024 (stdnum tries the 2000s only for years up to today); numbers valid only',
        'through a 2000s reading after 2024 are left out. BIS months (+20, +40) are rejected.',
    ])


# ----------------------------------------------------------------- Sweden, personnummer


def gen_se_personnummer() -> None:
    from stdnum.se import personnummer as pnr
    rng = rng_for('se_personnummer')
    out = id_file('se_personnummer', pnr.compact)

    def make(date: datetime.date, long: bool = False, sign: str | None = None,
             day: int | None = None) -> str:
        yymmdd = '%02d%02d%02d' % (date.year % 100, date.month, date.day if day is None else day)
        serial = digits(rng, 3)
        check = std_luhn.calc_check_digit(yymmdd + serial)
        if sign is None:
            sign = '+' if date.year < 1927 else '-'
        if long:
            return '%04d' % date.year + yymmdd[2:] + '-' + serial + check
        return yymmdd + sign + serial + check

    # Short forms infer the century from today: years 1930-1999 and 2000-2024 keep their
    # reading for decades; the plus sign marks people aged 100 or more.
    def date_for_short() -> datetime.date:
        while True:
            d = birth(rng, datetime.date(1900, 1, 1))
            if not 1925 <= d.year <= 1930:
                return d

    valid = [make(date_for_short()) for _ in range(150)]
    valid += [make(birth(rng), long=True) for _ in range(40)]
    out.add('880320-0016', '880320+0016', '19880320-0016', '')
    out.extend(valid)
    for date in ((2000, 2, 29), (1900, 2, 29), (1996, 2, 29), (2001, 2, 29), (1990, 4, 31)):
        y, m, d = date
        for sign in '-+':
            b = '%02d%02d%02d' % (y % 100, m, d) + digits(rng, 3)
            out.add(b[:6] + sign + b[6:] + std_luhn.calc_check_digit(b))
    for _ in range(10):  # coordination numbers (samordningsnummer): day + 60
        d = birth(rng, datetime.date(1940, 1, 1))
        b = '%02d%02d%02d' % (d.year % 100, d.month, d.day + 60) + digits(rng, 3)
        out.add(b[:6] + '-' + b[6:] + std_luhn.calc_check_digit(b))
    for value in rng.sample(valid, 10):
        out.add(value.replace('-', '*'), value.replace('-', '/'))
    add_mutations(out, rng, valid)
    write_id(out, pnr.is_valid, 'stdnum.se.personnummer.is_valid (1/0)', [
        'Compact form keeps the sign: YYMMDD-NNNC, YYMMDD+NNNC (aged 100 or more) or',
        'YYYYMMDD-NNNC; Luhn over the ten digits. stdnum reads the century of the short form from',
        "today (years 1925-1930 are left out so that no verdict changes before 2100); it rejects",
        'coordination numbers (day + 60).',
    ])


# ----------------------------------------------------------------- Norway, fødselsnummer


def gen_no_fodselsnummer() -> None:
    from stdnum.no import fodselsnummer as fnr
    rng = rng_for('no_fodselsnummer')
    out = id_file('no_fodselsnummer', fnr.compact)

    def individual_for(year: int) -> int:
        if year < 1900:
            return rng.randint(500, 749)
        if year < 2000:
            return rng.randint(0, 499) if year < 1940 or rng.random() < 0.8 else rng.randint(900, 999)
        return rng.randint(500, 999)

    def complete(b: str) -> str | None:
        c1 = fnr.calc_check_digit1(b)
        if len(c1) != 1:
            return None
        c2 = fnr.calc_check_digit2(b + c1)
        return b + c1 + c2 if len(c2) == 1 else None

    def make(date: datetime.date, day_add: int = 0, month_add: int = 0) -> str | None:
        return complete('%02d%02d%02d%03d' % (date.day + day_add, date.month + month_add,
                                              date.year % 100, individual_for(date.year)))

    valid = [complete_until(rng, lambda: make(birth(rng, datetime.date(1855, 1, 1))))
             for _ in range(170)]
    valid += [complete_until(rng, lambda: make(birth(rng), day_add=40)) for _ in range(15)]  # D
    valid += [complete_until(rng, lambda: make(birth(rng), month_add=40)) for _ in range(10)]  # H
    out.add('15108695088', '15108695077', '45014054018', '')
    out.extend(valid)
    for _ in range(10):  # FH numbers (day 80+), no birth date by design
        out.add(complete_until(rng, lambda: complete('%02d%s' % (rng.randint(80, 99),
                                                                 digits(rng, 7)))))
    for individual, year in ((100, 1850), (600, 1850), (700, 1960), (800, 1960), (950, 1950),
                             (950, 2030), (600, 2030)):
        b = '1503%02d%03d' % (year % 100, individual)
        value = complete(b)
        out.add(value)
    for day, month in ((30, 2), (31, 4), (0, 5), (32, 1), (15, 13), (15, 0)):
        for _ in range(2):
            out.add(complete('%02d%02d%02d%03d' % (day, month, rng.randint(40, 99),
                                                   rng.randint(0, 499))))
    add_mutations(out, rng, valid, check_len=2)
    drop_future(out, fnr.get_birth_date)
    write_id(out, fnr.is_valid, 'stdnum.no.fodselsnummer.is_valid (1/0)', [
        'DDMMYY, individual number (its range gives the century), two mod-11 check digits;',
        'D numbers (day +40) and H numbers (month +40); FH numbers (day 80+) are rejected.',
        'Birth dates up to 2024 (stdnum rejects dates after today).',
    ])


# ----------------------------------------------------------------- Finland, HETU

HETU_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY'
HETU_SIGNS = {1800: '+', 1900: '-YXWVU', 2000: 'ABCDEF'}


def gen_fi_hetu() -> None:
    from stdnum.fi import hetu
    rng = rng_for('fi_hetu')
    out = id_file('fi_hetu', hetu.compact)

    def make(date: datetime.date, individual: int | None = None, sign: str | None = None) -> str:
        individual = rng.randint(2, 899) if individual is None else individual
        sign = sign or rng.choice(HETU_SIGNS[date.year // 100 * 100])
        b = '%02d%02d%02d' % (date.day, date.month, date.year % 100)
        return b + sign + '%03d' % individual + HETU_CHECK[int(b + '%03d' % individual) % 31]

    valid = [make(birth(rng, datetime.date(1850, 1, 1))) for _ in range(200)]
    out.add('131052-308T', '131052A308T', '010101-0101', '')
    out.extend(valid)
    for individual in (0, 1, 2, 899, 900, 999):
        out.add(make(birth(rng), individual))
    for d, m, y, sign in ((29, 2, 0, 'A'), (29, 2, 0, '-'), (29, 2, 0, '+'), (31, 4, 90, '-'),
                          (0, 1, 90, '-'), (1, 13, 90, '-'), (32, 1, 90, 'A')):
        b = '%02d%02d%02d' % (d, m, y)
        i = rng.randint(2, 899)
        out.add(b + sign + '%03d' % i + HETU_CHECK[int(b + '%03d' % i) % 31])
    for value in rng.sample(valid, 15):
        out.add(value[:6] + rng.choice('GZ*/') + value[7:], value.lower())
        out.add(value[:-1] + rng.choice('GIOQZ'))
    add_mutations(out, rng, valid, check_alphabet=HETU_CHECK)
    write_id(out, hetu.is_valid, 'stdnum.fi.hetu.is_valid (1/0)', [
        'DDMMYY, century sign (+ 1800s; - Y X W V U 1900s; A-F 2000s), individual 002-899',
        '(900-999 are temporary and rejected), check character from 31 (no G I O Q Z).',
    ])


# ----------------------------------------------------------------- Denmark, CPR


def dk_digit7(rng: random.Random, year: int) -> str:
    """The serial's first digit that, with the two-digit year, gives the century."""
    if year < 1900:
        return rng.choice('5678')  # only with year >= 58
    if year < 1937:
        return rng.choice('0123')
    if year < 2000:
        return rng.choice('012349')
    return rng.choice('456789' if year < 2037 else '4')


def gen_dk_cpr() -> None:
    from stdnum.dk import cpr
    rng = rng_for('dk_cpr')
    out = id_file('dk_cpr', cpr.compact)

    def make(date: datetime.date) -> str:
        return ('%02d%02d%02d' % (date.day, date.month, date.year % 100) + dk_digit7(rng, date.year)
                + digits(rng, 3))

    valid = [make(birth(rng, datetime.date(1858, 1, 1))) for _ in range(200)]
    out.add('2110625629', '0101011234', '')
    out.extend(valid)
    for d, m in ((29, 2), (30, 2), (31, 4), (0, 1), (32, 1), (1, 13), (1, 0)):
        for y, seventh in ((0, '4'), (0, '0'), (96, '1'), (1, '5'), (60, '5'), (20, '9')):
            out.add('%02d%02d%02d' % (d, m, y) + seventh + digits(rng, 3))
    for seventh in '0123456789':  # the seventh digit gives the century
        for y in (10, 36, 37, 57, 58, 99):
            out.add('1506%02d%s%s' % (y, seventh, digits(rng, 3)))
    add_mutations(out, rng, valid)
    drop_future(out, cpr.get_birth_date)
    write_id(out, cpr.is_valid, 'stdnum.dk.cpr.is_valid (1/0)', [
        'DDMMYY and a 4-digit serial whose first digit with the year gives the century. No',
        'mod-11 check: numbers issued since 2007 need not pass it, and stdnum does not test it.',
        'Births up to 2024 (stdnum rejects dates after today; 2025-2036 readings left out).',
    ])


# ----------------------------------------------------------------- Czech and Slovak rodné číslo


def gen_cz_rc() -> None:
    from stdnum.cz import rc
    rng = rng_for('cz_rc')
    out = id_file('cz_rc', rc.compact)

    def make(date: datetime.date, female: bool | None = None, extra: bool = False) -> str | None:
        female = rng.random() < 0.5 if female is None else female
        month = date.month + (50 if female else 0) + (20 if extra else 0)
        b = '%02d%02d%02d' % (date.year % 100, month, date.day) + digits(rng, 3)
        if date.year < 1954:
            return b
        check = int(b) % 11 % 10
        return b + str(check)

    valid = [make(birth(rng, datetime.date(1954, 1, 1), datetime.date(2024, 12, 31)))
             for _ in range(150)]
    valid += [make(birth(rng, datetime.date(2004, 1, 1), datetime.date(2024, 12, 31)), extra=True)
              for _ in range(15)]
    old = [make(birth(rng, datetime.date(1900, 1, 1), datetime.date(1953, 12, 31)))
           for _ in range(30)]
    out.add('7103192745', '991231123', '8001011234', '')
    out.extend(valid + old)
    for month in (0, 13, 20, 21, 33, 50, 51, 63, 70, 71, 83, 99):
        b = '85%02d15' % month + digits(rng, 3)
        out.add(b + str(int(b) % 11 % 10))
    for value in rng.sample(old, 10):  # 9 digits after 1953, 10 digits before 1954
        out.add(value + rng.choice(string.digits))
    for _ in range(10):
        out.add('%02d0101%s' % (rng.randint(54, 79), digits(rng, 3)))
    add_mutations(out, rng, valid)
    write_id(out, rc.is_valid, 'stdnum.cz.rc.is_valid (1/0)', [
        'YYMMDD (women: month +50; from 2004 also +20), serial; 10 digits since 1954 with the',
        'number mod 11 mod 10 as check, 9 digits without check before 1954.',
    ])


# ----------------------------------------------------------------- Austria, social insurance


def gen_at_vnr() -> None:
    from stdnum.at import vnr
    rng = rng_for('at_vnr')
    out = id_file('at_vnr', vnr.compact)

    def make(serial: str | None = None, date: datetime.date | None = None) -> str | None:
        serial = serial or '%03d' % rng.randint(100, 999)
        date = date or birth(rng)
        b = serial + '0' + '%02d%02d%02d' % (date.day, date.month, date.year % 100)
        check = vnr.calc_check_digit(b)
        return b[:3] + check + b[4:] if len(check) == 1 else None

    valid = [complete_until(rng, make) for _ in range(200)]
    out.add('1237010180', '1237010181', '')
    out.extend(valid)
    for _ in range(15):  # a remainder of 10 has no check digit
        while True:
            b = '%03d0%s' % (rng.randint(100, 999), birth(rng).strftime('%d%m%y'))
            if vnr.calc_check_digit(b) == '10':
                break
        for c in '01':
            out.add(b[:3] + c + b[4:])
    for _ in range(10):
        out.add(complete_until(rng, lambda: make(serial='0%02d' % rng.randint(0, 99))))
    add_mutations(out, rng, valid)
    write_id(out, vnr.is_valid, 'stdnum.at.vnr.is_valid (1/0)', [
        'Serial (first digit not 0), check digit in fourth place (weights 3 7 9 - 5 8 4 2 1 6,',
        'mod 11; remainder 10 is never issued), DDMMYY. stdnum does not check the date.',
    ])


# ----------------------------------------------------------------- Portugal, NIF and CC


def gen_pt_nif() -> None:
    from stdnum.pt import nif
    rng = rng_for('pt_nif')
    out = id_file('pt_nif', None)  # compact strips a PT prefix
    valid = [(lambda b: b + nif.calc_check_digit(b))(rng.choice('1235689') + digits(rng, 7))
             for _ in range(200)]
    out.add('501964843', '501964842', '')
    out.extend(valid)
    for _ in range(10):
        b = '0' + digits(rng, 7)
        out.add(b + nif.calc_check_digit(b))
    add_mutations(out, rng, valid)
    write_id(out, nif.is_valid, 'stdnum.pt.nif.is_valid (1/0)', [
        '9 digits, first not 0 (1-3 people, 5 companies, 6 public bodies, 8-9 others),',
        'weights 9..2, check (11 - r) mod 11 mod 10.',
    ])


def gen_pt_cc() -> None:
    from stdnum.pt import cc
    rng = rng_for('pt_cc')
    out = id_file('pt_cc', cc.compact)

    def make() -> str:
        civil = digits(rng, 8)
        civil += str((11 - sum((9 - i) * int(d) for i, d in enumerate(civil))) % 11 % 10)
        version = 'Z' + rng.choice('ZYXWV') if rng.random() < 0.9 else rng.choice(('ZZ0', 'Y1'))[:2]
        b = civil + version
        return b + cc.calc_check_digit(b)

    valid = [make() for _ in range(200)]
    out.add('000000000ZZ4', '000000000ZZ5', '')
    out.extend(valid)
    for value in rng.sample(valid, 15):
        out.add(value.lower(), value[:9] + '!!' + value[-1], value[:-1] + 'A')
    add_mutations(out, rng, valid)
    # stdnum's pattern takes any number of leading digits; the document number
    # has 12 characters (other lengths would be a different, unissued shape).
    for value in list(out.values):
        if len(value) not in (0, 12):
            del out.values[value]
    write_id(out, cc.is_valid, 'stdnum.pt.cc.is_valid (1/0)', [
        'Cartão de Cidadão: civil number (8 digits and its check digit), 2-character version,',
        'check digit (Luhn-like over letters as 10-35). stdnum checks only the shape and last digit',
        'and takes any number of leading digits: only the 12-character document number is kept.',
    ])


# ----------------------------------------------------------------- Greece, AMKA


def gen_gr_amka() -> None:
    from stdnum.gr import amka
    rng = rng_for('gr_amka')
    out = id_file('gr_amka', amka.compact)

    def make(date: datetime.date) -> str:
        return luhn_complete(date.strftime('%d%m') + '%02d' % (date.year % 100) + digits(rng, 4))

    valid = [make(birth(rng)) for _ in range(200)]
    out.add('01013099997', '01013099999', '')
    out.extend(valid)
    for d, m, y in ((29, 2, 0), (29, 2, 1), (29, 2, 4), (30, 2, 90), (31, 4, 90), (0, 1, 90),
                    (32, 1, 90), (1, 13, 90), (1, 0, 90)):
        for _ in range(2):
            out.add(luhn_complete('%02d%02d%02d' % (d, m, y) + digits(rng, 4)))
    add_mutations(out, rng, valid)
    write_id(out, amka.is_valid, 'stdnum.gr.amka.is_valid (1/0)', [
        'DDMMYY (1900s or 2000s, whichever is a date), serial, Luhn check digit.',
    ])


# ----------------------------------------------------------------- Bulgaria, EGN


def gen_bg_egn() -> None:
    from stdnum.bg import egn
    rng = rng_for('bg_egn')
    out = id_file('bg_egn', egn.compact)

    def make(date: datetime.date) -> str:
        offset = {18: 20, 19: 0, 20: 40}[date.year // 100]
        b = '%02d%02d%02d' % (date.year % 100, date.month + offset, date.day) + digits(rng, 3)
        return b + egn.calc_check_digit(b)

    valid = [make(birth(rng, datetime.date(1800, 1, 1))) for _ in range(200)]
    out.add('7523169263', '8032056031', '')
    out.extend(valid)
    for month in (0, 13, 20, 21, 33, 40, 41, 53, 60, 99):
        b = '75%02d15' % month + digits(rng, 3)
        out.add(b + egn.calc_check_digit(b))
    for y, m in ((0, 42), (0, 2), (0, 22), (4, 2), (1, 42)):  # February 29 per century
        b = '%02d%02d29' % (y, m) + digits(rng, 3)
        out.add(b + egn.calc_check_digit(b))
    add_mutations(out, rng, valid)
    write_id(out, egn.is_valid, 'stdnum.bg.egn.is_valid (1/0)', [
        'YYMMDD (1800s: month +20, 2000s: month +40), serial, weights 2 4 8 5 10 9 7 3 6 mod 11',
        'mod 10.',
    ])


# ----------------------------------------------------------------- Estonia and Lithuania


def ik_make(rng: random.Random, date: datetime.date, first: str | None = None) -> str:
    from stdnum.ee import ik
    if first is None:
        base = {18: 1, 19: 3, 20: 5, 21: 7}[date.year // 100]
        first = str(base + rng.randint(0, 1))
    b = first + date.strftime('%y%m%d') + digits(rng, 3) + '0'
    return b[:-1] + ik.calc_check_digit(b)


def gen_personal_code(name: str, module_name: str) -> None:
    import importlib
    module = importlib.import_module(f'stdnum.{module_name}')
    rng = rng_for(name)
    out = id_file(name, module.compact)
    valid = [ik_make(rng, birth(rng, datetime.date(1850, 1, 1))) for _ in range(200)]
    out.add('36805280109', '33609230041', '49002124277', '')
    out.extend(valid)
    for first in '0789':  # no century, or the 2100s
        out.add(ik_make(rng, birth(rng), first))
    for d, m, y, first in ((29, 2, 0, '5'), (29, 2, 0, '3'), (29, 2, 4, '3'), (31, 4, 90, '3'),
                           (0, 1, 90, '3'), (1, 13, 90, '4'), (30, 2, 90, '9'), (0, 0, 0, '9')):
        b = first + '%02d%02d%02d' % (y, m, d) + digits(rng, 3) + '0'
        out.add(b[:-1] + module.calc_check_digit(b))
    for _ in range(15):  # the second round of weights (first sum mod 11 is 10)
        while True:
            value = ik_make(rng, birth(rng))
            if sum(((i % 9) + 1) * int(n) for i, n in enumerate(value[:-1])) % 11 == 10:
                out.add(value)
                break
    add_mutations(out, rng, valid)
    country = {'ee.ik': 'Estonian isikukood', 'lt.asmens': 'Lithuanian asmens kodas'}[module_name]
    write_id(out, module.is_valid, f'stdnum.{module_name}.is_valid (1/0)', [
        f'{country}: sex and century digit (1-8), YYMMDD, serial, check digit with weights',
        '1-9,1 then 3-9,1-3 when the first gives 10. Lithuania: first digit 9 skips the date.',
    ])


def gen_ee_ik() -> None:
    gen_personal_code('ee_ik', 'ee.ik')


def gen_lt_asmens() -> None:
    gen_personal_code('lt_asmens', 'lt.asmens')


# ----------------------------------------------------------------- UK, NHS number and NINO


def gen_gb_nhs() -> None:
    from stdnum.gb import nhs
    rng = rng_for('gb_nhs')
    out = id_file('gb_nhs', nhs.compact)

    def make() -> str | None:
        b = rng.choice('4' * 4 + '6' * 4 + '3789') + digits(rng, 8)
        r = sum((10 - i) * int(d) for i, d in enumerate(b)) % 11
        check = (11 - r) % 11
        return b + str(check) if check != 10 else None

    valid = [complete_until(rng, make) for _ in range(200)]
    out.add('9434765919', '9434765918', '4010232137', '0000000000', '')
    out.extend(valid)
    for _ in range(10):  # remainder 1: no check digit
        while True:
            b = digits(rng, 9)
            if sum((10 - i) * int(d) for i, d in enumerate(b)) % 11 == 1:
                out.add(b + '0', b + rng.choice(string.digits))
                break
    add_mutations(out, rng, valid)
    write_id(out, nhs.is_valid, 'stdnum.gb.nhs.is_valid (1/0)', [
        '10 digits, weights 10..2, check 11 - r (11 -> 0, 10 never issued).',
    ])


NINO_FIRST_FORBIDDEN = 'DFIQUV'
NINO_SECOND_FORBIDDEN = 'DFIQUVO'
NINO_PREFIXES_NOT_ALLOCATED = ('BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ')


def nino_valid(value: str) -> bool:
    """HMRC National Insurance Manual NIM39110 ("National Insurance number
    format"): two prefix letters, six digits, a suffix letter A, B, C or D.
    Neither prefix letter is D, F, I, Q, U or V; the second is not O; the
    prefixes BG, GB, NK, KN, TN, NT and ZZ are not allocated (TN marks a
    temporary number). Upper-cased first, as stdnum's compact() would."""
    value = value.upper()
    if not re.fullmatch(r'[A-Z]{2}[0-9]{6}[ABCD]', value) or not value.isascii():
        return False
    return (value[0] not in NINO_FIRST_FORBIDDEN and value[1] not in NINO_SECOND_FORBIDDEN
            and value[:2] not in NINO_PREFIXES_NOT_ALLOCATED)


def gen_gb_nino() -> None:
    rng = rng_for('gb_nino')
    out = id_file('gb_nino', None)
    first = [c for c in string.ascii_uppercase if c not in NINO_FIRST_FORBIDDEN]
    second = [c for c in string.ascii_uppercase if c not in NINO_SECOND_FORBIDDEN]
    prefixes = [a + b for a in first for b in second if a + b not in NINO_PREFIXES_NOT_ALLOCATED]
    valid = [rng.choice(prefixes) + digits(rng, 6) + rng.choice('ABCD') for _ in range(180)]
    out.add('AB123456C', 'QQ123456C', 'JG103759A', '')
    out.extend(valid)
    for prefix in NINO_PREFIXES_NOT_ALLOCATED:
        out.add(prefix + digits(rng, 6) + rng.choice('ABCD'))
    for letter in NINO_SECOND_FORBIDDEN:
        out.add(rng.choice(first) + letter + digits(rng, 6) + 'A')
        if letter != 'O':
            out.add(letter + rng.choice(second) + digits(rng, 6) + 'B')
    out.add('OA123456A', 'AO123456A', 'OO123456A')
    for suffix in 'EFMXZ0':
        out.add(rng.choice(prefixes) + digits(rng, 6) + suffix)
    for value in rng.sample(valid, 15):
        out.add(value.lower(), value[:-1], value[:8] + 'A' + value[8:], value[:2] + '0' + value[3:])
    add_mutations(out, rng, valid, check_alphabet=string.ascii_uppercase)
    write_id(out, nino_valid, 'nino_valid in tools/gen_vectors.py (1/0): HMRC NIM39110 rules; '
             'stdnum 2.2 has no NINO module', [
                 'Prefix letters (not D F I Q U V; second not O; not BG GB NK KN TN NT ZZ), six',
                 'digits, suffix A-D. No check digit exists.',
             ])


# ----------------------------------------------------------------- Ireland, PPS

PPS_ALPHABET = 'WABCDEFGHIJKLMNOPQRSTUV'


def gen_ie_pps() -> None:
    from stdnum.ie import pps
    from stdnum.ie import vat
    rng = rng_for('ie_pps')
    out = id_file('ie_pps', pps.compact)

    def make(second: str = '') -> str:
        b = digits(rng, 7)
        if second in ('A', 'B', 'H'):
            return b + vat.calc_check_digit(b + second) + second
        return b + vat.calc_check_digit(b) + second

    valid = [make() for _ in range(100)] + [make(rng.choice('AABHWTX')) for _ in range(90)]
    out.add('6433435F', '6433435FT', '6433435FW', '6433435OA', '6433435E', '')
    out.extend(valid)
    for value in rng.sample(valid, 20):
        out.add(value[:8] + rng.choice('CDEGZ'), value.lower())
    for value in [v for v in valid if len(v) == 9 and v[-1] in 'ABH'][:10]:
        out.add(value[:8] + rng.choice('WTX'))  # the second letter changes the check
    add_mutations(out, rng, [v for v in valid if len(v) == 8], check_alphabet=PPS_ALPHABET,
                  foreign_digits=False)
    write_id(out, pps.is_valid, 'stdnum.ie.pps.is_valid (1/0)', [
        '7 digits, check letter (weights 8..2, plus 9 x the second letter for A, B, H; mod 23),',
        'optional second letter A B H W T X. No Arabic-Indic digits: stdnum\'s \\d accepts them.',
    ])


# ----------------------------------------------------------------- India, Aadhaar and PAN


def gen_in_aadhaar() -> None:
    from stdnum import verhoeff
    from stdnum.in_ import aadhaar
    rng = rng_for('in_aadhaar')
    out = id_file('in_aadhaar', aadhaar.compact)
    valid = [(lambda b: b + verhoeff.calc_check_digit(b))(rng.choice('23456789') + digits(rng, 10))
             for _ in range(200)]
    out.add('234123412346', '643343121', '999999990019', '')
    out.extend(valid)
    for first in '01':
        for _ in range(5):
            b = first + digits(rng, 10)
            out.add(b + verhoeff.calc_check_digit(b))
    for _ in range(200):  # palindromes that pass Verhoeff
        half = rng.choice('23456789') + digits(rng, 5)
        value = half + half[::-1]
        if verhoeff.is_valid(value):
            out.add(value)
    add_mutations(out, rng, valid)
    write_id(out, aadhaar.is_valid, 'stdnum.in_.aadhaar.is_valid (1/0)', [
        '12 digits, first 2-9, Verhoeff check digit; palindromes are rejected.',
    ])


PAN_HOLDERS = 'ABCFGHLJPTK'


def gen_in_pan() -> None:
    from stdnum.in_ import pan
    rng = rng_for('in_pan')
    out = id_file('in_pan', pan.compact)
    upper = string.ascii_uppercase

    def make(holder: str | None = None, number: str | None = None) -> str:
        return (''.join(rng.choice(upper) for _ in range(3)) + (holder or rng.choice('PPPPCFHT'
                + PAN_HOLDERS)) + rng.choice(upper) + (number or '%04d' % rng.randint(1, 9999))
                + rng.choice(upper))

    valid = [make() for _ in range(200)]
    out.add('ACUPA7085R', 'ABMPA32111', 'AAAPZ0000Z', '')
    out.extend(valid)
    for holder in sorted(set(upper) - set(PAN_HOLDERS)):
        out.add(make(holder))
    for _ in range(5):
        out.add(make(number='0000'))
    for value in rng.sample(valid, 15):
        out.add(value.lower(), replace_at(value, 9, rng.choice(string.digits)))
    add_mutations(out, rng, valid, check_alphabet=upper)
    write_id(out, pan.is_valid, 'stdnum.in_.pan.is_valid (1/0)', [
        'AAA, holder type (A B C F G H J K L P T), initial, 0001-9999, a letter. No check digit.',
    ])


# ----------------------------------------------------------------- Brazil, CPF and CNPJ


def gen_br_cpf() -> None:
    from stdnum.br import cpf
    rng = rng_for('br_cpf')
    out = id_file('br_cpf', cpf.compact)
    valid = [(lambda b: b + cpf._calc_check_digits(b))(digits(rng, 9)) for _ in range(200)]
    out.add('39053344705', '39053344704', '11144477735', '')
    out.extend(valid)
    for d in string.digits:  # repdigits: stdnum accepts all but 00000000000
        out.add(d * 11)
    add_mutations(out, rng, valid, check_len=2)
    write_id(out, cpf.is_valid, 'stdnum.br.cpf.is_valid (1/0)', [
        '9 digits and two mod-11 check digits (weights 10..2, then 11..2). stdnum accepts',
        'repdigits such as 111.111.111-11 (only 000.000.000-00 is rejected).',
    ])


def gen_br_cnpj() -> None:
    from stdnum.br import cnpj
    rng = rng_for('br_cnpj')
    out = id_file('br_cnpj', cnpj.compact)
    alnum = string.digits + string.ascii_uppercase

    def make(alphanumeric: bool = False) -> str:
        pool = alnum if alphanumeric else string.digits
        base = ''.join(rng.choice(pool) for _ in range(8))
        branch = '0001' if rng.random() < 0.7 else '%04d' % rng.randint(2, 50)
        return base + branch + cnpj.calc_check_digits(base + branch + '00')

    valid = [make() for _ in range(170)] + [make(True) for _ in range(30)]
    out.add('16727230000197', '16727230000198', '12ABC34501DE35', '00000000000191', '')
    out.extend(valid)
    for value in rng.sample(valid, 10):
        out.add(value.lower())
    add_mutations(out, rng, valid, check_len=2)
    write_id(out, cnpj.is_valid, 'stdnum.br.cnpj.is_valid (1/0)', [
        '8-character base, 4-digit branch, two mod-11 check digits over values ord(c) - 48',
        '(digits, and from July 2026 upper-case letters in base and branch); all-zero bases',
        'are rejected.',
    ])


# ----------------------------------------------------------------- Canada, SIN


def gen_ca_sin() -> None:
    from stdnum.ca import sin
    rng = rng_for('ca_sin')
    out = id_file('ca_sin', sin.compact)
    valid = [luhn_complete(rng.choice('1234567979') + digits(rng, 7)) for _ in range(200)]
    out.add('123456782', '046454286', '800000002', '')
    out.extend(valid)
    for first in '08':
        for _ in range(5):
            out.add(luhn_complete(first + digits(rng, 7)))
    add_mutations(out, rng, valid)
    write_id(out, sin.is_valid, 'stdnum.ca.sin.is_valid (1/0)', [
        '9 digits, Luhn; first digit 0 (not issued) and 8 (business numbers) rejected.',
    ])


# ----------------------------------------------------------------- Australia, TFN


def gen_au_tfn() -> None:
    from stdnum.au import tfn
    rng = rng_for('au_tfn')
    out = id_file('au_tfn', tfn.compact)

    def make(length: int) -> str | None:
        b = digits(rng, length - 1)
        for check in string.digits:
            if tfn.checksum(b + check) == 0:
                return b + check
        return None

    valid = [complete_until(rng, lambda: make(9)) for _ in range(170)]
    valid += [complete_until(rng, lambda: make(8)) for _ in range(30)]
    out.add('123456782', '876543210', '')
    out.extend(valid)
    add_mutations(out, rng, valid[:170])
    write_id(out, tfn.is_valid, 'stdnum.au.tfn.is_valid (1/0)', [
        '9 digits (8 for old numbers), weights 1 4 3 7 5 8 6 9 10, sum mod 11 = 0.',
    ])


# ----------------------------------------------------------------- South Korea, RRN


def gen_kr_rrn() -> None:
    from stdnum.kr import rrn
    rng = rng_for('kr_rrn')
    out = id_file('kr_rrn', rrn.compact)

    def make(date: datetime.date, place: int | None = None, seventh: str | None = None) -> str:
        if seventh is None:
            seventh = rng.choice({18: '90', 19: '1256', 20: '3478'}[date.year // 100])
        place = rng.randint(0, 95) if place is None else place
        b = date.strftime('%y%m%d') + seventh + '%02d' % place + digits(rng, 3)
        return b + rrn.calc_check_digit(b)

    valid = [make(birth(rng, datetime.date(1850, 1, 1))) for _ in range(200)]
    out.add('9710139019902', '9710139019901', '')
    out.extend(valid)
    for place in (96, 97, 98, 99):
        out.add(make(birth(rng), place))
    for d, m, y, seventh in ((29, 2, 0, '3'), (29, 2, 0, '1'), (31, 4, 90, '1'), (0, 1, 90, '1'),
                             (1, 13, 90, '2'), (32, 1, 90, '2')):
        b = '%02d%02d%02d' % (y, m, d) + seventh + '%02d' % rng.randint(0, 95) + digits(rng, 3)
        out.add(b + rrn.calc_check_digit(b))
    add_mutations(out, rng, valid)
    write_id(out, rrn.is_valid, 'stdnum.kr.rrn.is_valid (1/0)', [
        'YYMMDD, sex/century digit (9 0: 1800s, 1 2 5 6: 1900s, 3 4 7 8: 2000s), place of birth',
        '00-96, serial, weights 2-9,2-5 check (11 - r) mod 10. Future dates are not rejected.',
    ])


# ----------------------------------------------------------------- Turkey, T.C. Kimlik


def gen_tr_tckimlik() -> None:
    from stdnum.tr import tckimlik
    rng = rng_for('tr_tckimlik')
    out = id_file('tr_tckimlik', tckimlik.compact)
    valid = [(lambda b: b + tckimlik.calc_check_digits(b))(rng.choice('123456789') + digits(rng, 8))
             for _ in range(200)]
    out.add('17291716060', '17291716050', '10000000146', '')
    out.extend(valid)
    for _ in range(10):
        b = '0' + digits(rng, 8)
        out.add(b + tckimlik.calc_check_digits(b))
    add_mutations(out, rng, valid, check_len=2)
    write_id(out, tckimlik.is_valid, 'stdnum.tr.tckimlik.is_valid (1/0)', [
        '11 digits, first not 0; two check digits as stdnum computes them.',
    ])


# ----------------------------------------------------------------- Mexico, CURP

CURP_STATES = ('AS BC BS CC CH CL CM CS DF DG GR GT HG JC MC MN MS NE NL NT OC PL QR QT SL SP SR TC'
               ' TL TS VZ YN ZS').split()
CURP_CONSONANTS = 'BCDFGHJKLMNPQRSTVWXYZ'


def gen_mx_curp() -> None:
    from stdnum.mx import curp
    rng = rng_for('mx_curp')
    out = id_file('mx_curp', curp.compact)

    def make(date: datetime.date | None = None, name: str | None = None, sex: str | None = None,
             state: str | None = None, day: int | None = None) -> str:
        while name is None:
            name = (rng.choice(CURP_CONSONANTS) + rng.choice('AEIOUX')
                    + ''.join(rng.choice(string.ascii_uppercase) for _ in range(2)))
            if name in curp._name_blacklist:
                name = None
        date = date or birth(rng, datetime.date(1920, 1, 1))
        disambiguator = rng.choice(string.digits) if date.year < 2000 else rng.choice('ABCDEFGH')
        b = (name + '%02d%02d%02d' % (date.year % 100, date.month, day or date.day)
             + (sex or rng.choice('HM')) + (state or rng.choice(CURP_STATES + ['NE']))
             + ''.join(rng.choice(CURP_CONSONANTS) for _ in range(3)) + disambiguator)
        return b + curp.calc_check_digit(b)

    valid = [make() for _ in range(200)]
    out.add('BOXW310820HNERXN09', 'ICMA830319HDFLRR06', '')
    out.extend(valid)
    for name in sorted(curp._name_blacklist)[::4]:
        out.add(make(name=name))
    for sex in 'XFO0':
        out.add(make(sex=sex))
    for state in ('XX', 'MX', 'US', 'DX', 'ZZ'):
        out.add(make(state=state))
    for date, day in ((datetime.date(2000, 2, 1), 29), (datetime.date(1900, 2, 1), 29),
                      (datetime.date(1990, 2, 1), 30), (datetime.date(1990, 4, 1), 31),
                      (datetime.date(1990, 1, 1), 32)):
        out.add(make(date=date, day=day))
    for value in rng.sample(valid, 15):
        out.add(value[:16] + ('A' if value[16].isdigit() else '1') + value[17])
        out.add(value.lower())
    add_mutations(out, rng, valid)
    write_id(out, curp.is_valid, 'stdnum.mx.curp.is_valid (1/0)', [
        'Four name letters (not in the list of offensive words), YYMMDD, sex H/M, state code,',
        'three consonants, century digit (1900s) or letter (2000s), check digit.',
    ])


# ----------------------------------------------------------------- South Africa, ID


def gen_za_idnr() -> None:
    from stdnum.za import idnr
    rng = rng_for('za_idnr')
    out = id_file('za_idnr', idnr.compact)

    def make(date: datetime.date, citizen: str | None = None) -> str:
        return luhn_complete(date.strftime('%y%m%d') + digits(rng, 4) + (citizen or rng.choice('01'))
                             + rng.choice('89'))

    def any_date() -> datetime.date:
        while True:
            date = birth(rng, datetime.date(1931, 1, 1))
            if not 1925 <= date.year <= 1930:
                return date

    valid = [make(any_date()) for _ in range(200)]
    out.add('7801014800082', '7801014800083', '8001015009087', '')
    out.extend(valid)
    for citizen in '2345679':
        out.add(make(any_date(), citizen))
    for d, m, y in ((29, 2, 0), (29, 2, 4), (29, 2, 1), (31, 4, 90), (0, 1, 90), (1, 13, 90),
                    (32, 1, 90), (1, 0, 90)):
        out.add(luhn_complete('%02d%02d%02d' % (y, m, d) + digits(rng, 4) + '08'))
    add_mutations(out, rng, valid)
    write_id(out, idnr.is_valid, 'stdnum.za.idnr.is_valid (1/0)', [
        'YYMMDD, sequence (sex), citizenship 0/1, a digit, Luhn. stdnum reads the century from',
        'today; years 1925-1930 are left out so that no verdict changes before 2100.',
    ])


# ----------------------------------------------------------------- Israel, ID


def gen_il_idnr() -> None:
    from stdnum.il import idnr
    rng = rng_for('il_idnr')
    out = id_file('il_idnr', None)  # stdnum pads short numbers: 9 digits only here
    valid = [luhn_complete(rng.choice('0123') + digits(rng, 7)) for _ in range(200)]
    out.add('039337423', '039337424', '000000000', '000000018', '')
    out.extend(valid)
    add_mutations(out, rng, valid, shorter=False)
    write_id(out, idnr.is_valid, 'stdnum.il.idnr.is_valid (1/0)', [
        'Teudat Zehut: 9 digits (shorter ones are padded with zeros by stdnum; left out here),',
        'Luhn; all zeros invalid.',
    ])


# ----------------------------------------------------------------- Japan, My Number


def gen_jp_mynumber() -> None:
    from stdnum.jp import in_
    rng = rng_for('jp_mynumber')
    out = id_file('jp_mynumber', in_.compact)
    valid = [(lambda b: b + in_.calc_check_digit(b))(digits(rng, 11)) for _ in range(200)]
    out.add('123456789018', '123456789017', '')
    out.extend(valid)
    add_mutations(out, rng, valid)
    write_id(out, in_.is_valid, 'stdnum.jp.in_.is_valid (1/0)', [
        'Individual Number: 11 digits and a check digit (weights 6 5 4 3 2 7 6 5 4 3 2, -s mod',
        '11 mod 10).',
    ])


# ----------------------------------------------------------------- US, ITIN


def gen_us_itin() -> None:
    from stdnum.us import itin
    rng = rng_for('us_itin')
    out = id_file('us_itin', itin.compact)
    groups = [g for g in range(70, 100) if g not in (89, 93)]
    valid = [('9%02d%02d%04d' % (rng.randint(0, 99), rng.choice(groups), rng.randint(0, 9999)))
             for _ in range(150)]
    out.add('912903456', '912893456', '')
    out.extend(valid)
    for group in range(100):  # every group
        out.add('9%02d%02d%04d' % (rng.randint(0, 99), group, rng.randint(0, 9999)))
    for first in '012345678':
        out.add(first + '%02d%02d%04d' % (rng.randint(0, 99), rng.choice(groups),
                                          rng.randint(0, 9999)))
    add_mutations(out, rng, valid)
    write_id(out, itin.is_valid, 'stdnum.us.itin.is_valid (1/0)', [
        '9XX-GG-NNNN with group 70-88, 90-92 or 94-99. No check digit.',
    ])


ID_GENERATORS = [
    gen_de_idnr, gen_fr_nir, gen_it_codicefiscale, gen_es_dni, gen_es_nie, gen_nl_bsn,
    gen_be_nn, gen_se_personnummer, gen_no_fodselsnummer, gen_fi_hetu, gen_dk_cpr, gen_cz_rc,
    gen_at_vnr, gen_pt_nif, gen_pt_cc, gen_gr_amka, gen_bg_egn, gen_lt_asmens, gen_ee_ik,
    gen_gb_nhs, gen_gb_nino, gen_ie_pps, gen_in_aadhaar, gen_in_pan, gen_br_cpf, gen_br_cnpj,
    gen_ca_sin, gen_au_tfn, gen_kr_rrn, gen_tr_tckimlik, gen_mx_curp, gen_za_idnr, gen_il_idnr,
    gen_jp_mynumber, gen_us_itin,
]


def main() -> None:
    for package, expected in EXPECTED_VERSIONS.items():
        if version(package) != expected:
            sys.exit(f'expected {package} {expected}, found {version(package)}')
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    gen_luhn()
    gen_cards()
    gen_us_ssn()
    gen_pl_pesel()
    gen_ro_cnp()
    gen_cn_ric()
    gen_ir_melli()
    gen_iban()
    for generate in ID_GENERATORS:
        generate()


if __name__ == '__main__':
    main()
