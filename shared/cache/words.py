"""The content words of a query: what it says besides its critical details, canonical and in
the order said. Two queries share a cached answer only when these are equal (shared/cache/guard.py),
so any word listed nowhere below (a negator, an antonym, an added instruction) keeps their answers
apart, and so does a swap of roles ("good for beginners, not experts").
The tables only drop what never changes the answer and merge what always means the same; they
are plain data, reviewed like code, and none holds a word for the sake of one pair of questions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from shared.cache.patterns import words
from shared.search.lexicon import DEMONYMS, OTHER_PLACES, US_STATES
from shared.text import singular, stem

# Dropped words. Not negators; not "i", "me", "my", "you", "your"; not "or" ("wifi or parking"
# asks for more than "wifi and parking"); not "to", "for", "by"; not "will", "should", "must";
# not "did", "was", "were" (the tense changes the answer); not "where", "when", "how", "why";
# not "all", "only", "just", "very", "more", "other", "else".
FILLERS = frozenset(words(
    "a an the any some this that these those it its "  # articles and pointers
    "is are am be been being do does "  # be and do, in the present tense
    "could would might "  # possibility and politeness; "can" and "may" below
    "in on at of from "  # prepositions that only attach a detail ("boots from Ridgeline")
    "and but also "  # joiners
    "what which "  # interrogatives that only select: "which lamp" = "what lamp" = "lamp"
    "really actually honestly even "  # discourse markers
    "anything something one option choice"  # what a seller has, unnamed
))  # fmt: skip
# Phrases dropped whole: what only frames a request ("could you tell me", "I'd like to know",
# "show me"). The retailer's own name is dropped by the guard, which knows it from the catalog.
FRAMES = (
    "can you", "could you", "would you", "would you mind", "do you mind", "tell me",
    "tell me about", "show me", "give me", "let me know", "i would like to know",
    "i want to know", "do you know", "i would like", "i want", "i am looking for", "looking for",
    "i am after", "i am interested in", "interested in", "i was wondering", "i wonder",
    "list", "find me",
    "is it possible to", "any idea", "what about", "how about", "kind of", "type of", "sort of",
)  # fmt: skip
# Asking whether the seller has a thing is what every catalog question asks, so the frame is
# dropped whole: "Any down jackets?" = "Do you have down jackets?" = "Is there a down jacket?"
# = "Can I get a down jacket?" = "Is a down jacket sold?" = "down jackets". The
# seller's verbs go with it; said by the shopper they stay ("can I sell you X", "where can we
# sell X": SELL below), and so does "you buy" ("do you buy back X" is no "do you sell X").
# Stock is a shop's shelves, not the catalog: "in stock" is a word of its own.
_SELLER_VERBS = words(
    "have has having got sell selling sold carry carrying carried offer offering offered serve "
    "serving served provide providing provided"
)
REQUESTS = (
    *_SELLER_VERBS, "with", "contain", "containing", "include", "including", "come in",
    "sold as", "available", "availability", "from you",
    *(f"{frame} {verb}" for frame in ("do you", "you")
      for verb in words("have sell carry stock offer serve provide")),
    "have you got", "is there", "are there", "there is", "there are",
    *(f"{modal} i {verb}" for modal in words("can could may")
      for verb in words("get buy order purchase have")),
    *(f"i {want} {verb}" for want in ("would like to", "want to")
      for verb in words("get buy order purchase have")),
)  # fmt: skip
SELL = tuple(f"{who} sell" for who in (
    "i", "we", "can i", "could i", "may i", "can we", "could we", "i want to", "we want to",
    "i would like to", "we would like to"))  # fmt: skip
# Words and phrases that always mean the same, under one canonical word.
SYNONYMS = {
    "sell": SELL,
    # Stock is not the catalog: "do you sell X" is answered from the catalog, "is X in stock" from
    # a shop's shelves.
    "stock": ("stock", "in stock", "stocked"),
    "buy": ("buy", "buying", "purchase", "purchasing", "order", "ordering", "get", "getting"),
    # "Is X good for winter?", "Is X the best?" and "Do you recommend X?" are three questions.
    "good": ("good", "great", "nice", "works well", "work well"),
    "best": ("best", "better", "top", "favourite", "favorite", "ideal", "your favourite",
             "your favorite", "you like best", "do you like best", "you like most",
             "do you like most"),
    # "What would you pick?" asks for a recommendation; "your pick" is "you recommend".
    "recommend": ("recommend", "recommended", "recommendation", "suggest", "suggested",
                  "suggestion", "you recommend", "you suggest", "you pick", "would you pick",
                  "would you choose", "you would pick", "your recommendation",
                  "your suggestion", "your pick", "your top pick"),
    "shop": ("shop", "store", "location", "branch", "outlet", "showroom",
             # the retailer's: "any of your stores" asks what "any stores" does
             "your shop", "your store", "your location", "your branch", "your outlet",
             "cafe", "boutique"),
    "where": ("where", "address", "located", "whereabouts"),
    "when": ("when", "what time", "which time", "what day", "which day"),
    "taste": ("taste", "tasting", "taste like", "flavour", "flavor", "flavour profile",
              "flavor profile", "tasting note", "taste profile",
              # "the tasting notes for X" are the tasting notes of X
              "tasting note for", "flavour profile for", "flavor profile for"),
    "difference": ("difference", "difference between", "different", "differ", "compare",
                   "comparison", "compared", "versus", "vs"),
    "will": ("will", "shall", "going to"),
    "past": ("did", "was", "were", "used to"),
    "not": ("no", "not", "never", "none", "nothing", "nobody", "neither", "nor", "non",
            "out of"),
    "hello": ("hello", "hi", "hey", "hiya", "howdy", "greetings", "hello there", "hi there",
              "hey there"),
    "thanks": ("thanks", "thank", "thank you", "thx", "cheers", "much appreciated",
               "thanks a lot", "thank you so much", "thank you very much", "many thanks"),
    "bye": ("bye", "goodbye", "see you", "see ya", "farewell", "bye for", "catch you",
            "talk to you", "take care"),
    "please": ("please", "pls", "plz", "kindly"),
    # an acknowledgement, said once or twice ("ok cool" = "cool, ok")
    "ok": ("ok", "okay", "cool", "alright", "all right", "got it", "sounds good", "kk"),
    "nevermind": ("never mind", "nevermind", "forget it", "forget about it", "no worries"),
}  # fmt: skip
# Words that stand for more than one: "without" is "not" and "with". And "do" after its subject
# is a verb of its own, not the auxiliary: "what do you do?" is not "what are you?". "Can" and
# "may" are modal verbs beside their subject, and otherwise a tin and a month.
EXPANSIONS = {
    **{(subject + " do"): (subject, "do") for subject in words("i you we they")},
    "it do": ("do",),
    **{f"{modal} {subject}": (subject,) for modal in words("can may") for subject in words("i we")},
    **{f"{subject} can": (subject,) for subject in words("i you we")},
    "can it": (), "it can": (), "can be": (),
    "without": ("not",), "lack": ("not",), "lacking": ("not",), "missing": ("not",),
    "sold out": ("not", "stock"), "out of stock": ("not", "stock"), "had": ("past",),
    # "have to" is an obligation, not a request: "do I have to pay?" is "must I pay?".
    "have to": ("must",), "has to": ("must",), "got to": ("must",), "had to": ("past", "must"),
}  # fmt: skip
# Greetings, thanks and goodbyes are content words only in a message that is nothing else.
SOCIAL = frozenset(("hello", "thanks", "bye", "please"))
# Contractions: "isn't" is "is not", "I'd" is "I would", and so with no apostrophe.
_ENDINGS = {"n't": "not", "'re": "are", "'m": "am", "'ll": "will", "'ve": "have", "'d": "would",
            "'s": "is"}  # fmt: skip
_WHOLE = {"won't": "will not", "can't": "can not", "shan't": "shall not", "ain't": "is not",
          "cannot": "can not", "cant": "can not", "wont": "will not", "aint": "is not",
          "im": "i am", "ive": "i have", "youre": "you are", "whats": "what is"}  # fmt: skip
_WHOLE |= {
    w: w[:-2] + " not"
    for w in words(
        "dont doesnt didnt isnt arent wasnt werent havent hasnt hadnt shouldnt wouldnt couldnt"
    )
}
# Words that give the next word or detail its role: what is compared with what (than), in what
# order (before, after), where to or what for (to, into, for, per), by whom (by), and what is
# denied (not). One right before a detail takes it as its object, as a word takes its place in
# the sequence: "the lamp before the shade" is not "the shade before the lamp".
NEGATION = "not"
ROLES = frozenset(words("than before after to into toward for per by instead not"))
# The seller's, before a detail (a product, a kind, a shop, a comparative): the catalog's own.
OWNER = "your"
MASK = "|"  # where the guard read a run of details
_TOKEN = re.compile(r"(?P<word>[^\W_]+(?:'[^\W_]+)?)|\S")


def _expand(token: str) -> Iterator[str]:
    """A token as the words it stands for, each stemmed."""
    whole = _WHOLE.get(token)
    if whole is not None:
        yield from whole.split()
        return
    base, _, ending = token.partition("'")
    if ending:
        ending = "'" + ending
        if token.endswith("n't"):
            base, ending = token[:-3], "n't"
        yield singular(base)
        if ending in _ENDINGS:
            yield _ENDINGS[ending]
        return
    yield singular(token)


def _table() -> tuple[dict[tuple[str, ...], tuple[str, ...]], int]:
    """Every listed phrase, stemmed as queries are, with what it stands for."""
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    table |= {(w,): () for w in FILLERS}
    table |= {tuple(f.split()): () for f in (*FRAMES, *REQUESTS)}
    for word, phrases in SYNONYMS.items():
        table |= {tuple(p.split()): (word,) for p in phrases}
    table |= {tuple(p.split()): meant for p, meant in EXPANSIONS.items()}
    stemmed = {tuple(singular(w) for w in k): v for k, v in table.items()}
    return stemmed, max(len(k) for k in stemmed)


_TABLE, _LONGEST = _table()


def canonical(text: str) -> list[str]:
    """Canonical content words of a text, in order, repeats kept: longest listed phrase first,
    every other word as it is, and MASK where a run of details was. Any script's words count,
    and so does a symbol ('👎') or an invisible character (format, private-use or unassigned: a
    zero-width space, a soft hyphen, a tag character can hide text); MASK and punctuation end a
    phrase, and 'your' right before a detail is dropped ('your cheapest drink' is the cheapest
    drink; 'your name' keeps it)."""
    out: list[str] = []
    run: list[str] = []
    for m in _TOKEN.finditer(text):
        char = m[0]
        if m["word"]:
            run += _expand(m["word"])
        elif char == MASK:
            if run and run[-1] == OWNER:  # "your grinders" are the grinders you sell
                run.pop()
            out += [*_phrases(run), MASK]
            run = []
        elif unicodedata.category(char)[0] in "SC":
            run.append(char)
        elif run and unicodedata.category(char)[0] == "P":
            out += _phrases(run)
            run = []
    return out + _phrases(run)


def _phrases(run: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(run):
        for n in range(min(_LONGEST, len(run) - i), 0, -1):
            meant = _TABLE.get(tuple(run[i : i + n]))
            if meant is not None:
                out += meant
                i += n
                break
        else:
            out.append(run[i])
            i += 1
    return out


def _suits(run: str) -> bool:
    """A run of details that are all values or yes/no attributes, none of them a place ("tea
    for Kenya" is not "tea from Kenya")."""
    values = [part.partition(":")[2].rpartition(":")[2] for part in run.split("+")]
    return (
        bool(run)
        and all(part.startswith("features:") for part in run.split("+"))
        and not any(v in DEMONYMS or v in OTHER_PLACES or v in US_STATES for v in values)
    )


def content_words(
    canonical_words: list[str],
    implied: frozenset[str],
    objects: list[str],
    *,
    details: bool,
) -> tuple[str, ...]:
    """The sequence compared, in the order said, repeats kept: 'good for beginners, not experts'
    is not 'good for experts, not beginners'. A role word right before a run of details takes
    its `objects` entry (one for each MASK, in order) as its object; the details themselves are
    compared apart, in any order. A word said again right away counts once ('bye bye', 'where
    is it located'), a negation each time. Greetings and thanks count only in a message with no
    other word or detail; words the details say already ('shop' beside a shop's name) do not."""
    said = [w for w in canonical_words if w != MASK]
    social = details or any(w not in SOCIAL for w in said)
    out: list[str] = []
    runs = iter(objects)
    for w in canonical_words:
        if w == MASK:
            detail = next(runs, "")
            if out and out[-1] == "for" and _suits(detail):
                out.pop()  # "pads for winter" is "winter pads": what a thing suits, a value
            elif out and out[-1] in ROLES:
                out[-1] = f"{out[-1]}>{detail}"
        elif w in implied or stem(w) in implied or (social and w in SOCIAL):
            continue  # "finished in matte" for "finish: matte" too
        elif not out or w != out[-1] or w == NEGATION:
            out.append(w)
    return tuple(out)


# Whole messages of small talk that hold a word of time ("later", "evening", "now"), which the
# times would otherwise take: what each says.
_SMALL_TALK = {
    **{f"{hi}{part}": f"hello {part}" for part in ("morning", "afternoon", "evening")
       for hi in ("", "good ", "hey good ", "hi good ")},  # the time of day said stays said
    "good day": "hello",
    **dict.fromkeys(("see you later", "see you soon", "bye for now", "later", "talk later",
                     "talk to you later", "talk to you soon", "catch you later", "ttyl", "cya",
                     "see ya later", "until next time", "have a good day", "have a nice day"),
                    "bye"),
    **dict.fromkeys(("good night", "goodnight", "night", "have a good night"), "bye night"),
    **dict.fromkeys(("how are you", "how are you doing", "how are things", "how is it going",
                     "how's it going", "how is everything going", "how is everything",
                     "how are things going", "how have you been", "what's up", "whats up",
                     "how you doing"), "howareyou"),
}  # fmt: skip
_GREETING = re.compile(r"^(?:hi|hey|hello|hiya|howdy) ")  # "hey, how are things?"


def small_talk(whole: str) -> tuple[str, ...] | None:
    """What a whole message of small talk that holds a word of time says, a greeting before it
    or not ("good evening" -> hello evening), or None."""
    said = _SMALL_TALK.get(whole) or _SMALL_TALK.get(_GREETING.sub("", whole))
    return tuple(said.split()) if said else None
