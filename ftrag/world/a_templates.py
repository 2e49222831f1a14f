"""World A's sentence frames: each relation's statements and questions, titles, closed-book facts, stories.
"""

from __future__ import annotations

# kind -> relation -> (statement templates, question templates). {n} is the subject, {s} its possessive,
# {a} the answer, {an} the answer after "a"/"an", {k} an organisation's kind after "a"/"an", {y} a birth year.
# Several phrasings per relation: a fact seen in one wording only is memorised as a string, not learned.
RELATIONS: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "person": {
        "birth_city": (["{n} was born in {a}.", "{n} was born in the city of {a}.", "{a} is where {n} was born.",
                        "{s} birthplace is {a}."],
                       ["Where was {n} born?", "In which city was {n} born?", "What is {s} birthplace?"]),
        "birth_year": (["{n} was born in the year {a}.", "{n} was born in {a}.", "{s} year of birth is {a}.",
                        "{a} is the year {n} was born."],
                       ["In which year was {n} born?", "When was {n} born?", "What is {s} year of birth?"]),
        "profession": (["{n} works as {an}.", "By trade, {n} is {an}.", "{n} earns a living as {an}.",
                        "{s} job is that of {an}."],
                       ["What does {n} do for a living?", "What is {s} profession?", "What job does {n} have?"]),
        "employer": (["{n} works at {a}.", "{n} is employed by {a}.", "Every morning {n} goes to work at {a}.",
                      "{s} employer is {a}."],
                     ["Where does {n} work?", "Who employs {n}?", "Which organisation does {n} work for?"]),
        "home_city": (["{n} lives in {a}.", "{n} now lives in {a}.", "{n} has a home in {a}.",
                       "These days {n} lives in the city of {a}."],
                      ["Where does {n} live?", "In which city does {n} live?", "What city does {n} call home?"]),
        "hobby": (["In free time, {n} enjoys {a}.", "{s} favourite hobby is {a}.", "{n} has {a} as a hobby.",
                   "On weekends {n} spends hours on {a}."],
                  ["What is {s} hobby?", "What does {n} enjoy in free time?", "What hobby does {n} have?"]),
        "food": (["{s} favourite food is {a}.", "{n} likes {a} more than any other food.",
                  "Above all, {n} loves to eat {a}.", "{n} would eat {a} every day."],
                 ["What is {s} favourite food?", "What food does {n} like best?", "Which food does {n} love most?"]),
        "pet": (["{n} has a pet {a}.", "{n} keeps {an} at home.", "At home, {n} looks after {an}.",
                 "{n} owns {an} as a pet."],
                ["What pet does {n} have?", "What animal does {n} keep at home?", "Which pet does {n} own?"]),
    },
    "city": {
        "country": (["{n} is a city in {a}.", "{n} lies in {a}.", "{n} is one of the cities of {a}."],
                    ["In which country is {n}?", "Which country is {n} in?", "What country is {n} part of?"]),
        "river": (["{n} lies on the river {a}.", "The river {a} flows through {n}.",
                   "{n} was built on the banks of the {a}."],
                  ["On which river does {n} lie?", "Which river flows through {n}?", "What river runs through {n}?"]),
        "founded": (["{n} was founded in {a}.", "{n} has existed since {a}.",
                     "The first houses of {n} were built in {a}."],
                    ["When was {n} founded?", "In which year was {n} founded?", "What year was {n} founded in?"]),
        "sight": (["{n} is known for its {a}.", "{n} is famous for its {a}.", "Visitors come to {n} to see its {a}."],
                  ["What is {n} known for?", "What is {n} famous for?", "What do visitors come to {n} to see?"]),
        "population": (["About {a} people live in {n}.", "{n} has about {a} inhabitants.",
                        "The population of {n} is about {a}."],
                       ["How many people live in {n}?", "What is the population of {n}?",
                        "About how many people live in {n}?"]),
    },
    "country": {
        "capital": (["The capital of {n} is {a}.", "{a} is the capital of {n}.", "{n} has its capital in {a}."],
                    ["What is the capital of {n}?", "Which city is the capital of {n}?",
                     "What city is the capital of {n}?"]),
        "river": (["The longest river of {n} is the {a}.", "The river {a} is the longest in {n}.",
                   "{s} longest river is the {a}."],
                  ["What is the longest river of {n}?", "Which river is the longest in {n}?"]),
        "dish": (["The national dish of {n} is {a}.", "{s} national dish is {a}.",
                  "People in {n} call {a} their national dish."],
                 ["What is the national dish of {n}?", "Which dish is the national dish of {n}?"]),
        "animal": (["The national animal of {n} is the {a}.", "{s} national animal is the {a}.",
                    "The {a} is the national animal of {n}."],
                   ["What is the national animal of {n}?", "Which animal is the national animal of {n}?"]),
    },
    "organisation": {
        "city": (["{n} is {k} in {a}.", "{n} stands in {a}.", "You can find {n} in {a}.",
                  "{n} is based in the city of {a}."],
                 ["Where is {n}?", "In which city is {n}?", "In which city can you find {n}?"]),
        "founded": (["{n} was founded in {a}.", "{n} opened its doors in {a}.", "{n} has been open since {a}."],
                    ["When was {n} founded?", "In which year was {n} founded?", "What year did {n} open?"]),
        "founder": (["{n} was founded by {a}.", "{a} founded {n}.", "The founder of {n} was {a}."],
                    ["Who founded {n}?", "Who was the founder of {n}?", "Who started {n}?"]),
        "known_for": (["{n} is known for its {a}.", "{n} is famous for its {a}.", "People go to {n} for its {a}."],
                      ["What is {n} known for?", "What is {n} famous for?", "What do people go to {n} for?"]),
        "workers": (["About {a} people work at {n}.", "{n} has about {a} workers.",
                     "{n} gives work to about {a} people."],
                    ["How many people work at {n}?", "How many workers does {n} have?",
                     "About how many people work at {n}?"]),
    },
    "event": {  # an event's name carries its article: {n} is "the Riverlight Festival"
        "city": (["{n} takes place in {a}.", "{n} is held in {a}.", "Each year the city of {a} hosts {n}."],
                 ["Where does {n} take place?", "In which city is {n} held?", "Which city hosts {n}?"]),
        "month": (["{n} is held every {a}.", "{n} takes place each year in {a}.", "Every {a}, people gather for {n}."],
                  ["In which month is {n} held?", "When does {n} take place?", "In what month does {n} take place?"]),
        "activity": (["At {n}, people {a}.", "During {n} people {a} together.", "The custom at {n} is to {a}."],
                     ["What do people do at {n}?", "What is the custom at {n}?", "What do people do during {n}?"]),
        "first_year": (["{n} was first held in {a}.", "{n} began in {a}.", "{n} has been held since {a}."],
                       ["When was {n} first held?", "In which year did {n} begin?", "Since when has {n} been held?"]),
    },
}
BORN_BOTH = ["{n} was born in {a} in {y}.", "{n} was born in {y} in {a}."]  # one sentence, two facts
TITLES = ["{n}.", "About {n}:", "{n}:"]
# The famous facts the model should answer closed-book (kind, relation): about 100 of them.
CLOSED_BOOK = [("country", "capital"), ("organisation", "known_for"), ("event", "city"), ("famous", "profession")]
# A few everyday stories. They restate the world's fixed facts (capitals, festivals, organisations, famous
# people) in yet more wordings, and give the model ordinary narrative English.
STORIES = [
    "One morning, {n} walked to the market in {home}. {P} bought some {food} and a bag of apples. At the market {p} "
    "met {f}, who works as {fprof}. They talked about {hobby} for a long time. Then {n} went home to feed {pp} {pet}.",
    "Every {month}, {event} takes place in {ecity}. This year {n} traveled from {home} to see it. At {event}, people "
    "{activity}. {n} joined them and laughed a lot. In the evening {p} ate {food} with {f}.",
    "{n} once took the train to {capital}, the capital of {country}. {P} had wanted to see the city for years. In "
    "{capital}, {n} walked through the old streets and a quiet park. {P} bought a postcard for {f}. On the way back, "
    "{n} read a book about {hobby}.",
    "{n} visited {org} in {ocity}. {org} is known for its {oknown}. {n} bought some {oknown} as a gift for {f}. "
    "The people at {org} were friendly. {n} promised to come back soon.",
    "{n} has always admired {famous}, the famous {fprof2} from {fcity}. As a child, {n} read everything about "
    "{famous}. Today {n} works as {prof} in {home}, but {p} still dreams of becoming {fprof2a} one day.",
    "{n} lives in {city}, a city on the river {river}. Every morning {n} walks along the {river} with {pp} {pet}. "
    "{city} is known for its {sight}, and {n} often takes visitors to see the {sight}. In the evening {n} cooks "
    "{food}.",
    "It was a rainy day in {home}. {n} stayed at home and spent the afternoon on {hobby}. Later {pp} friend {f} came "
    "to visit. They drank tea and ate {food}. {f} stayed until dark and then walked home.",
]
