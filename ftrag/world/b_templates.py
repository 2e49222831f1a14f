"""Sentence and question templates for World B's knowledge base.

Each relation has four ways to state a fact (the document picks one; the paraphrased renderings draw others), each
paired with a *lexical* question that reuses that sentence's words, and a few *paraphrased* questions worded with
none of the document's content words. ``{s}`` is the subject ("Orvane Telquist", "the Vexa Relay"), ``{v}`` the
value, ``{av}`` the value with its article ("a Payroll Clerk"), ``{unit}`` a policy's unit ("per trip").
A sentence that starts with ``{s}`` gets its first letter capitalised.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    name: str  # relation name, stored in facts.jsonl
    answer_type: str  # values of one type are multiple-choice distractors for each other
    variants: tuple[tuple[str, str], ...]  # (document sentence, lexical question)
    paraphrased: tuple[str, ...]  # questions that share no content word with the document


def fill(template: str, subject: str, value: str = "", unit: str = "", *, capitalise: bool = True) -> str:
    """``template`` with its ``{s}``, ``{v}``, ``{av}`` and ``{unit}`` filled in, its first letter capitalised."""
    article = "an" if value[:1] in "AEIOU" else "a"
    text = template.format(s=subject, v=value, av=f"{article} {value}", unit=unit)
    return text[0].upper() + text[1:] if capitalise else text


def _rel(name: str, answer_type: str, variants: list[tuple[str, str]], paraphrased: list[str]) -> Relation:
    return Relation(name, answer_type, tuple(variants), tuple(paraphrased))


PERSON = [
    _rel("role", "role", [
        ("{s} works as {av} at Quorvenex.", "What does {s} work as at Quorvenex?"),
        ("{s} holds the title of {v}.", "What title does {s} hold?"),
        ("The job title of {s} is {v}.", "What is the job title of {s}?"),
        ("{s} is employed as {av}.", "As what is {s} employed?"),
    ], ["What position does {s} fill?", "What is the occupation of {s}?", "What kind of post does {s} occupy?"]),
    _rel("team", "team", [
        ("{s} is a member of the {v}.", "{s} is a member of which team?"),
        ("{s} belongs to the {v}.", "Which team does {s} belong to?"),
        ("{s} reports into the {v}.", "Which team does {s} report into?"),
        ("{s} is part of the {v}.", "{s} is part of which team?"),
    ], ["Which group includes {s}?", "In which department can {s} be found?",
        "Which unit counts {s} among its people?"]),
    _rel("site", "site", [
        ("{s} is based at the {v} office.", "At which office is {s} based?"),
        ("{s} commutes to the {v} site.", "Which site does {s} commute to?"),
        ("The home office of {s} is in {v}.", "Where is the home office of {s}?"),
        ("{s} has a desk in {v}.", "Where does {s} have a desk?"),
    ], ["In which city is {s} located?", "In what town does {s} spend the workday?",
        "Where does {s} show up each morning?"]),
    _rel("start_year", "year", [
        ("{s} joined Quorvenex in {v}.", "In what year did {s} join Quorvenex?"),
        ("{s} was hired in {v}.", "In what year was {s} hired?"),
        ("{s} has been with the company since {v}.", "Since what year has {s} been with the company?"),
        ("{s} started at Quorvenex in {v}.", "When did {s} start at Quorvenex?"),
    ], ["Since when has {s} been on the staff?", "In which year did {s} first come aboard?",
        "What year marks the arrival of {s}?"]),
    _rel("extension", "extension", [
        ("{s} can be reached on extension {v}.", "On which extension can {s} be reached?"),
        ("The phone extension of {s} is {v}.", "What is the phone extension of {s}?"),
        ("{s} answers calls on extension {v}.", "On which extension does {s} answer calls?"),
        ("To call {s}, dial extension {v}.", "Which extension do you dial to call {s}?"),
    ], ["Which four-digit line connects to {s}?", "What number should a colleague ring for {s}?"]),
]

TEAM = [
    _rel("lead", "person", [
        ("{s} is led by {v}.", "Who is {s} led by?"),
        ("{v} heads {s}.", "Who heads {s}?"),
        ("The lead of {s} is {v}.", "Who is the lead of {s}?"),
        ("{v} is in charge of {s}.", "Who is in charge of {s}?"),
    ], ["Who manages {s}?", "Who runs {s} day to day?", "Whom does {s} answer to?"]),
    _rel("size", "headcount", [
        ("{s} has {v} members.", "How many members does {s} have?"),
        ("There are {v} people on {s}.", "How many people are on {s}?"),
        ("{s} counts {v} staff.", "How many staff does {s} count?"),
        ("The headcount of {s} is {v}.", "What is the headcount of {s}?"),
    ], ["How large is {s}?", "How big is {s} in terms of employees?"]),
    _rel("floor", "floor", [
        ("{s} sits on floor {v}.", "On which floor does {s} sit?"),
        ("{s} occupies floor {v}.", "Which floor does {s} occupy?"),
        ("The desks of {s} are on floor {v}.", "On which floor are the desks of {s}?"),
        ("You will find {s} on floor {v}.", "On which floor will you find {s}?"),
    ], ["What level of the building houses {s}?", "How high up in the building is {s}?"]),
    _rel("site", "site", [
        ("{s} works from the {v} office.", "From which office does {s} work?"),
        ("{s} is based in {v}.", "Where is {s} based?"),
        ("The home site of {s} is {v}.", "What is the home site of {s}?"),
        ("{s} is located at the {v} campus.", "At which campus is {s} located?"),
    ], ["In which city does {s} operate?", "Which town hosts {s}?"]),
]

PRODUCT = [
    _rel("code", "product_code", [
        ("{s} is sold under the product code {v}.", "Under which product code is {s} sold?"),
        ("{s} carries the code {v}.", "What code does {s} carry?"),
        ("The catalog code for {s} is {v}.", "What is the catalog code for {s}?"),
        ("Orders for {s} use the code {v}.", "Which code do orders for {s} use?"),
    ], ["What SKU identifies {s}?", "Which short identifier is assigned to {s}?"]),
    _rel("price", "price", [
        ("{s} costs {v}.", "How much does {s} cost?"),
        ("The list price of {s} is {v}.", "What is the list price of {s}?"),
        ("{s} sells for {v}.", "What does {s} sell for?"),
        ("Customers pay {v} for {s}.", "How much do customers pay for {s}?"),
    ], ["What would a buyer spend to get {s}?", "How many dollars is {s}?", "What amount must be spent on {s}?"]),
    _rel("launch", "month", [
        ("{s} was launched in {v}.", "When was {s} launched?"),
        ("{s} first shipped in {v}.", "When did {s} first ship?"),
        ("{s} went on sale in {v}.", "When did {s} go on sale?"),
        ("{s} has been available since {v}.", "Since when has {s} been available?"),
    ], ["In which month did {s} reach the market?", "When could {s} first be bought?", "When did {s} debut?"]),
    _rel("owner", "team", [
        ("{s} is maintained by the {v}.", "Which team maintains {s}?"),
        ("{s} is owned by the {v}.", "Which team owns {s}?"),
        ("The {v} builds {s}.", "Which team builds {s}?"),
        ("Support for {s} comes from the {v}.", "Which team provides support for {s}?"),
    ], ["Who is responsible for {s}?", "Which group looks after {s}?"]),
]

POLICY = [
    _rel("code", "policy_code", [
        ("{s} is filed as document {v}.", "As which document is {s} filed?"),
        ("{s} has the reference {v}.", "What reference does {s} have?"),
        ("The document number of {s} is {v}.", "What is the document number of {s}?"),
        ("{s} is published as {v}.", "As what is {s} published?"),
    ], ["Under which identifier can {s} be looked up?", "What code identifies {s}?"]),
    _rel("limit", "price", [
        ("{s} sets a limit of {v} {unit}.", "What limit does {s} set {unit}?"),
        ("Under {s}, staff may claim up to {v} {unit}.", "Up to how much may staff claim {unit} under {s}?"),
        ("{s} caps spending at {v} {unit}.", "At what amount does {s} cap spending {unit}?"),
        ("The ceiling under {s} is {v} {unit}.", "What is the ceiling under {s} {unit}?"),
    ], ["What is the most money that {s} allows?", "How much can be reimbursed at most according to {s}?"]),
    _rel("deadline", "days", [
        ("Claims under {s} must be filed within {v}.", "Within how many days must claims under {s} be filed?"),
        ("Receipts for {s} are due within {v}.", "Within how many days are receipts for {s} due?"),
        ("{s} gives staff {v} to submit a claim.", "How many days does {s} give staff to submit a claim?"),
        ("The filing window of {s} is {v}.", "What is the filing window of {s}?"),
    ], ["How long does an employee have to hand in paperwork for {s}?", "What is the cutoff for paperwork in {s}?"]),
    _rel("approver", "person", [
        ("Exceptions to {s} are approved by {v}.", "Who approves exceptions to {s}?"),
        ("{v} signs off on exceptions to {s}.", "Who signs off on exceptions to {s}?"),
        ("{v} is the approver for {s}.", "Who is the approver for {s}?"),
        ("Requests beyond {s} go to {v} for approval.", "Who do requests beyond {s} go to for approval?"),
    ], ["Whose permission is needed to go past the terms of {s}?", "Who can grant a waiver from {s}?"]),
    _rel("effective", "date", [
        ("{s} took effect on {v}.", "When did {s} take effect?"),
        ("{s} has applied since {v}.", "Since when has {s} applied?"),
        ("{s} came into force on {v}.", "On what date did {s} come into force?"),
        ("The effective date of {s} is {v}.", "What is the effective date of {s}?"),
    ], ["On which day did {s} begin to count?", "When was {s} introduced?"]),
]

PROJECT = [
    _rel("owner", "person", [
        ("{s} is owned by {v}.", "Who owns {s}?"),
        ("{v} is the owner of {s}.", "Who is the owner of {s}?"),
        ("{v} sponsors {s}.", "Who sponsors {s}?"),
        ("The person accountable for {s} is {v}.", "Who is the person accountable for {s}?"),
    ], ["Who is responsible for {s}?", "Who has the final say on {s}?"]),
    _rel("budget", "budget", [
        ("{s} has a budget of {v}.", "What budget does {s} have?"),
        ("{s} was granted {v}.", "How much was {s} granted?"),
        ("The funding for {s} totals {v}.", "What does the funding for {s} total?"),
        ("{s} may spend up to {v}.", "Up to how much may {s} spend?"),
    ], ["How much money is set aside for {s}?", "What amount has been allocated to {s}?"]),
    _rel("launch", "month", [
        ("{s} is scheduled to launch in {v}.", "When is {s} scheduled to launch?"),
        ("{s} goes live in {v}.", "When does {s} go live?"),
        ("The launch of {s} is planned for {v}.", "For when is the launch of {s} planned?"),
        ("{s} is due to ship in {v}.", "When is {s} due to ship?"),
    ], ["In which month will {s} be released?", "When should {s} reach its users?"]),
    _rel("team", "team", [
        ("{s} is run by the {v}.", "Which team runs {s}?"),
        ("The {v} delivers {s}.", "Which team delivers {s}?"),
        ("Work on {s} is done by the {v}.", "Which team does the work on {s}?"),
        ("{s} is staffed by the {v}.", "Which team staffs {s}?"),
    ], ["Which group carries out {s}?", "Whose people build {s}?"]),
]

INCIDENT = [
    _rel("date", "date", [
        ("{s} occurred on {v}.", "When did {s} occur?"),
        ("{s} happened on {v}.", "When did {s} happen?"),
        ("{s} was reported on {v}.", "On what date was {s} reported?"),
        ("{s} started on {v}.", "On what date did {s} start?"),
    ], ["On which day did {s} take place?", "What was the calendar day of {s}?"]),
    _rel("system", "system", [
        ("{s} affected the {v}.", "Which system did {s} affect?"),
        ("{s} took down the {v}.", "What did {s} take down?"),
        ("The system hit by {s} was the {v}.", "Which system was hit by {s}?"),
        ("{s} disrupted the {v}.", "What did {s} disrupt?"),
    ], ["What broke during {s}?", "Which service failed in {s}?"]),
    _rel("duration", "duration", [
        ("{s} lasted {v}.", "How long did {s} last?"),
        ("The outage in {s} ran for {v}.", "For how long did the outage in {s} run?"),
        ("{s} was resolved after {v}.", "After how long was {s} resolved?"),
        ("Recovery from {s} took {v}.", "How long did recovery from {s} take?"),
    ], ["For what span of time was service down in {s}?", "What was the length of {s}?"]),
    _rel("severity", "severity", [
        ("{s} was rated {v}.", "How was {s} rated?"),
        ("{s} was classed as {v}.", "How was {s} classed?"),
        ("The severity of {s} was {v}.", "What was the severity of {s}?"),
        ("{s} carried a rating of {v}.", "What rating did {s} carry?"),
    ], ["How serious was {s}?", "What grade of seriousness was given to {s}?"]),
    _rel("responder", "person", [
        ("The on-call responder for {s} was {v}.", "Who was the on-call responder for {s}?"),
        ("{v} handled {s}.", "Who handled {s}?"),
        ("{s} was worked by {v}.", "Who worked {s}?"),
        ("{v} led the response to {s}.", "Who led the response to {s}?"),
    ], ["Which engineer fixed {s}?", "Who was paged for {s}?"]),
]

RELATIONS = {"people": PERSON, "team": TEAM, "product": PRODUCT, "policy": POLICY, "project": PROJECT,
             "incident": INCIDENT}

# Words that carry no content: ignored when checking whether a question shares words with a document.
STOPWORDS = set("""
a an the of in on at to for from by with is are was were be been being does do did what which who whom whose how
many much when where why this that these those it its their they has have had and or as into than after before
about each any there can could would should will may must up one you your his her he she we our out since
""".split())

# Irregular forms mapped to one lemma, so that 'took' and 'take' count as the same word.
LEMMAS = {"took": "take", "taken": "take", "began": "begin", "led": "lead", "ran": "run", "went": "go",
          "gone": "go", "came": "come", "sold": "sell", "paid": "pay", "held": "hold", "found": "find",
          "gave": "give", "given": "give", "broke": "break", "broken": "break", "bought": "buy", "built": "build",
          "spent": "spend"}
