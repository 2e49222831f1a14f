"""The JSON task: plain-English community notices paired with the JSON object that a schema asks for.

The course model has never seen a brace: lesson 02 measures how zero-shot, few-shot, constrained decoding, LoRA,
QLoRA and full fine-tuning turn a notice into a valid object. The notices use World A's own first names, last names
and towns, so the words are familiar and only the format is new.

``generate(data_dir)`` writes ``data/json_task/``: ``schema.json`` (JSON Schema 2020-12), ``train.jsonl``
(3,000 rows) and ``test.jsonl`` (200 rows) of ``{"id", "text", "target"}``. Every value in ``target`` is copied
from the text, except the date (``March 14, 2026`` in the text, ``2026-03-14`` in the target) and the event type
(an enum value that the notice's title implies: "Jazz Recital" -> ``concert``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from pathlib import Path

from ftrag.world import vocab_a

SEED = 99
N_TRAIN, N_TEST, N_VALID = 3000, 200, 200
FORBIDDEN_CHARS = set('{}[]"')

# Every string is bounded and every integer has a range: a constrained decoder walking an unbounded field would
# run on until max_new_tokens cuts it (lesson 02 shows this).
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Community notice",
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "enum": ["class", "concert", "market", "meeting", "workshop", "talk",
                                                  "fair", "match"]},
        "title": {"type": "string", "minLength": 1, "maxLength": 30},
        "town": {"type": "string", "minLength": 1, "maxLength": 20},
        "date": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "seats": {"type": "integer", "minimum": 1, "maximum": 500},
        "contact": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 30},
                # The pattern fixes the length (8); xgrammar ignores min/maxLength beside a pattern, and warns.
                "phone": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{4}$"},
            },
            "required": ["name", "phone"],
            "additionalProperties": False,
        },
    },
    "required": ["event_type", "title", "town", "date", "seats", "contact"],
    "additionalProperties": False,
}

# The event type, and the nouns that end its titles (mostly the type itself, sometimes a synonym).
TITLE_NOUNS = {"class": ["Class", "Course", "Lessons"], "concert": ["Concert", "Recital"],
               "market": ["Market", "Bazaar"], "meeting": ["Meeting", "Gathering"], "workshop": ["Workshop", "Clinic"],
               "talk": ["Talk", "Lecture"], "fair": ["Fair", "Show"], "match": ["Match", "Game"]}
TOPICS = {
    "class": ["Pottery", "Watercolour", "Bread Baking", "Knitting", "First Aid", "Yoga", "Swimming", "Dance"],
    "concert": ["Jazz", "Folk Music", "Choir", "Piano", "Brass Band", "Violin", "Harp", "Guitar"],
    "market": ["Farmers", "Flea", "Flower", "Fish", "Craft", "Book", "Cheese", "Toy"],
    "meeting": ["Residents", "Garden Club", "Parents", "Allotment", "Library Friends", "Town Council"],
    "workshop": ["Woodcarving", "Bicycle Repair", "Candle Making", "Basket Weaving", "Soap Making", "Kite Making"],
    "talk": ["Local History", "Bird Watching", "Beekeeping", "Old Maps", "Astronomy", "River Wildlife"],
    "fair": ["Apple", "Horse", "Harvest", "Craft", "Plant", "Honey", "Pumpkin"],
    "match": ["Chess", "Football", "Rowing", "Cricket", "Tennis", "Bowls", "Volleyball"],
}
ADJECTIVES = ["Spring", "Summer", "Autumn", "Winter", "Evening", "Morning", "Weekend", "Beginner", "Family",
              "Community", "Village", "Open", "Annual", "Riverside", "Old Town", "Little", "Grand"]
MONTHS = vocab_a.MONTHS
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Sentence pieces: each states one field (or two), in several wordings.
OPENERS = ["Join us for the {title} in {town}.", "{town} invites everyone to the {title}.",
           "The {title} will be held in {town}.", "Come along to the {title}, hosted in {town}.",
           "This is a notice about the {title} in {town}.", "Everyone is welcome at the {title} in {town}.",
           "The people of {town} are holding the {title}."]
WHEN = ["It takes place on {date}.", "The date is {date}.", "Mark {date} in your calendar.",
        "It will happen on {date}.", "Please come on {date}.", "The day to remember is {date}."]
WHEN_FIRST = ["Mark {date} in your calendar.", "The date is {date}.", "The day to remember is {date}.",
              "Save the date: {date}."]  # the date sentence when it opens the notice (no "It" yet)
OPENER_WITH_DATE = ["On {date}, the {title} comes to {town}.", "The {title} returns to {town} on {date}.",
                    "{town} hosts the {title} on {date}."]
SEATS = ["There are {seats} seats.", "Places are limited to {seats}.", "Room for {seats} people only.",
         "Up to {seats} guests can attend.", "Only {seats} places are available.", "We have space for {seats}."]
CONTACT = ["For questions, call {name} on {phone}.", "Contact {name} at {phone}.",
           "To sign up, ring {name} on {phone}.", "{name} takes bookings at {phone}.",
           "Tickets and details from {name}, phone {phone}.", "Ask {name} on {phone} to book a place."]
PREFIXES = ["", "", "", "Notice. ", "Reminder: ", "Hello neighbours! ", "Good news. ", "Please note. "]
SUFFIXES = ["", "", "", " All are welcome.", " See you there!", " Bring a friend.", " Thank you."]
# Ten layouts: the order in which the pieces come. "od" is the opener that carries the date too.
LAYOUTS = [["o", "w", "s", "c"], ["o", "s", "w", "c"], ["od", "s", "c"], ["od", "c", "s"], ["w", "o", "s", "c"],
           ["o", "c", "w", "s"], ["s", "o", "w", "c"], ["o", "w", "c", "s"], ["c", "od", "s"], ["od", "s", "c"]]


def _date_text(rng: random.Random, day: dt.date) -> str:
    """The date as people write it in a notice: three styles, with or without the weekday."""
    month = MONTHS[day.month - 1]
    style = rng.randrange(4)
    if style == 0:
        return f"{month} {day.day}, {day.year}"
    if style == 1:
        return f"{day.day} {month} {day.year}"
    if style == 2:
        return f"{WEEKDAYS[day.weekday()]}, {month} {day.day}, {day.year}"
    return f"{WEEKDAYS[day.weekday()]} {day.day} {month} {day.year}"


def make_row(rng: random.Random) -> tuple[str, dict]:
    """One notice and its target object."""
    kind = rng.choice(sorted(TITLE_NOUNS))
    noun = rng.choice(TITLE_NOUNS[kind])
    title = ""
    while not 0 < len(title) <= 30:
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(TOPICS[kind])} {noun}"
    first = rng.choice(vocab_a.FEMALE_FIRST + vocab_a.MALE_FIRST)
    day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(730))
    target = {
        "event_type": kind,
        "title": title,
        "town": rng.choice(vocab_a.CITIES),
        "date": day.isoformat(),
        "seats": rng.choice([rng.randint(5, 60), rng.randint(5, 400)]),
        "contact": {"name": f"{first} {rng.choice(vocab_a.LAST)}", "phone": f"{rng.randint(200, 989)}-"
                                                                          f"{rng.randint(0, 9999):04d}"},
    }
    slots = {"title": title, "town": target["town"], "date": _date_text(rng, day), "seats": target["seats"],
             **target["contact"]}
    pieces = {"o": OPENERS, "w": WHEN, "od": OPENER_WITH_DATE, "s": SEATS, "c": CONTACT}
    layout = rng.choice(LAYOUTS)
    sentences = [rng.choice(WHEN_FIRST if (p, i) == ("w", 0) else pieces[p]).format(**slots)
                 for i, p in enumerate(layout)]
    text = rng.choice(PREFIXES) + " ".join(s[0].upper() + s[1:] for s in sentences) + rng.choice(SUFFIXES)
    return text, target


def check_row(text: str, target: dict) -> None:
    """Raise if a notice breaks the task's rules (the schema itself is checked with jsonschema in the tests)."""
    if FORBIDDEN_CHARS & set(text):
        raise ValueError(f"forbidden character in {text!r}")
    for value in (target["title"], target["town"], str(target["seats"]), *target["contact"].values()):
        if len(re.findall(rf"(?<![0-9A-Za-z-]){re.escape(value)}(?![0-9A-Za-z-])", text)) != 1:
            raise ValueError(f"{value!r} must appear exactly once in the notice {text!r}")


def generate(out_dir: Path, seed: int = SEED) -> dict:
    """Write ``json_task/{schema.json,train.jsonl,test.jsonl,valid.jsonl}``; return counts and sizes.

    ``valid`` (for choosing steps and settings) is drawn after ``train`` and ``test`` from the same stream, so the
    two earlier splits are the rows they always were; no notice is in two splits.
    """
    rng = random.Random(seed)
    out = Path(out_dir) / "json_task"
    out.mkdir(parents=True, exist_ok=True)
    (out / "schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n", encoding="utf-8", newline="\n")
    seen: set[str] = set()
    stats: dict = {}
    for split, count in (("train", N_TRAIN), ("test", N_TEST), ("valid", N_VALID)):
        rows = []
        while len(rows) < count:
            text, target = make_row(rng)
            if text in seen or target["seats"] == int(target["date"][8:]):
                continue  # a repeat, or a seat count that equals the day of the month (ambiguous to read)
            check_row(text, target)
            seen.add(text)
            rows.append({"id": f"{split}-{len(rows) + 1:04d}", "text": text, "target": target})
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (out / f"{split}.jsonl").write_text(body, encoding="utf-8", newline="\n")
        stats[split] = {"rows": len(rows), "characters": len(body), "approx_tokens": len(body) // 4}
    return stats


if __name__ == "__main__":
    print(json.dumps(generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data")), indent=1))
