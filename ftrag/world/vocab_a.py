"""Name pools and word lists of World A, the public world the course model is pretrained on.

Everything here is plain ASCII without ``{ } [ ] "``. Names avoid ordinary English words (no "Baker", "Rose",
"June") so that a name is never also an answer of another type, and places are invented. Other generators
(World B, the dialect) must stay clear of every string in :func:`entity_names`.
"""

from __future__ import annotations

FEMALE_FIRST = """
Anna Clara Elsa Greta Ida Lena Maria Nora Olga Rosa Sofia Tilda Vera Alice Beatrice Cecilia Dora Edith Flora
Hanna Irene Julia Karin Lotte Mabel Nadia Petra Rita Selma Thea Ursula Viola Wanda Agnes Bella Carla Daphne
Elena Frida Gemma Helga Inga Jana Leonie Marta Nina Ottilie Paula Regina Sabine Tessa Ulla Vivian Wilma Yvonne
Zora Adela Bianca Celia Delia Eva Fiona Gisela Heidi Ilse Josefine Kristin Lydia Miriam Noemi Odette Pia Ronja
Saskia Tamara Valeria Alma Brigitte Chiara Dagmar Emilia Franziska Gudrun Henrietta Isolde Johanna Katja Linnea
Magda Natalia Orla Philippa Renate Sigrid Tove Vilma Astrid Birgit Corinna Dorothea Elin Freya
""".split()

MALE_FIRST = """
Adam Bruno Carl Daniel Emil Felix Gustav Hugo Isak Jonas Leo Magnus Niklas Oskar Paul Rafael Simon Tomas Viktor
Walter Anton Bernhard Conrad David Erik Filip Georg Henrik Ivan Jakob Kasper Lukas Martin Nils Otto Peter
Quentin Robert Stefan Theo Ulrich Valentin Werner Xaver Yannick Albin Benedikt Casimir Dominik Edvard Fabian
Gregor Harald Ignaz Julius Lars Mattias Noah Olaf Pascal Roland Sebastian Tobias Vincent Wilhelm Aldo Bastian
Cyril Dario Elias Ferdinand Gerhard Hans Ingmar Jasper Kilian Leopold Marius Norbert Oliver Ruben Sven Tristan
Ulf Vidar Wolfgang Arvid Bjorn Cornelius Detlef Egon Frederik Gunnar Holger Ivo Joachim Kurt Lorenz Anselm
""".split()

LAST = """
Berg Hale Lund Moreau Castell Novak Dahl Keller Brandt Falk Holm Lindqvist Varga Koval Moretti Rossi Bianchi
Fontaine Dubois Lefevre Marchand Girard Roussel Lambert Weber Wagner Dietz Hoffmann Schulz Krause Lehmann
Vogel Sommer Fuchs Hartmann Engel Janssen Visser Smit Mulder Dekker Brouwer Hendriks Kuipers Nilsson Larsen
Eriksen Halvorsen Sandberg Lindgren Ekstrom Sjoberg Nyberg Wallin Ekdahl Olander Haugen Moen Bakke Solberg
Rasmussen Thorsen Kowalski Zielinski Wojcik Mazur Kaminski Dvorak Horak Kral Benes Pokorny Szabo Toth Nagy
Kovacs Farkas Molnar Balogh Popescu Ionescu Radu Marin Costa Ferreira Almeida Teixeira Moreira Ribeiro
Carvalho Navarro Romero Alonso Ortega Delgado Vidal Serrano Molina Galli Conti Greco Ricci Lombardi Santoro
Ferrara Barbieri Costello Doyle Quinn Brennan Gallagher Keane Nolan Reilly Sheridan Whelan Ashford Blackwell
Pemberton Thornton Whitaker Crawley Fairbanks Hargreaves Kingsley Ashcombe Merriweather Northcott Ollerton
Prescott Radcliffe Sutcliffe Trelawny Underhill Yardley Aldridge Bramwell Calloway Dunmore Ellery Fenwick
Garside Holloway Ingram Jessop Kendrick Lovell Marlowe Netherby Ormsby Pickering Rowntree Selwyn Tennant Upton
Vance Westbrook Ackland Beaumont Chastain Desmarais Lindahl Norlind Akerman Wikander Hedlund Sundqvist
Forsberg Lagerlund Petrovic Jankovic Horvat Kranjc Zupan Mlakar Vidmar Kos Hribar Bauer Seidel Ziegler Franke
Albrecht Winkler Graf Roth Beck Lang Wolff Pohl Kuhn Busch Brenner Stolz Eckert Adler Hesse Rieger
Wendt Voss Brandl Lechner Pichler Moser Gruber Huber Steiner Leitner Aigner Lindholm
""".split()

# Invented places. Each city lies in one country (assigned by the seeded generator, see world_a.py).
COUNTRIES = """
Dovrania Estrelia Kalvania Lorland Marovia Norvessa Pellandria Quenmark Sorvenia Tallinor Valdoria Zembria
Arvenland Brenmark Caldoria Felmaria
""".split()

CITIES = """
Velmora Karsund Thornvik Elbary Oskerby Marrowdale Pellinor Quillon Ravenholt Sarnow Tallowmere Umbrel
Varnholm Wexmoor Yarrowick Zelbrook Brackenford Corrowan Dellingham Eskerfield Fallowby Glimmerton Islemont
Lindenhollow Mistleby Norrhaven Orrinford Pendrake Quarrow Rillstone Tessaly Ulvard Yewdale Aldermoor Brisby
Cindermouth Emberlee Farrowdale Greymere Hollinbrook Ivelport Jorvale Kestrelby Moorvik Nettlebury Pryden
Rosmund Silvermere Tarnholt Umberstead Valderon Wickmoor Arnhollow Belstrand Caskaway Drummerby Fennick
Gorsebridge Halvik Istren Kilnworth Lorrow Merrinvale Ormholt Quenby Rothwick Sunmere Tovercliff Vessary
Wendmarsh Yarrin Zandervik
""".split()

RIVERS = """
Ossel Verin Kallow Lenne Marra Tolla Orvel Wenna Dravel Gallan Hessa Ivra Jorra Lorren Mirren Norra Pellow
Quessa Rindle Tarrow Velle Anwick Brivel Sorrel
""".split()

# name | what kind of place it is | what it is known for (an answer span, 1-3 words)
ORGANISATIONS = [
    line.split("|")
    for line in """
Brightwater Bakery|bakery|rye bread
Hollow Oak School|school|music lessons
Redfern Shipyard|shipyard|sailing boats
Silverbirch Pottery|pottery|blue bowls
Greenfield Dairy|dairy|goat cheese
Old Lantern Press|printing house|picture books
Northwind Weavers|weaving mill|wool blankets
Tallow and Wick|candle workshop|beeswax candles
Bluebell Clockmakers|clock workshop|wall clocks
Stonebridge Boatyard|boatyard|river barges
Little Acorn Toys|toy workshop|rocking horses
Clearwater Glassworks|glassworks|green bottles
Marigold Works|soap works|lavender soap
Windmere Rope Works|rope works|fishing nets
Foxglove Orchard|orchard|red apples
Kingfisher Fishery|fishery|smoked trout
Amberleaf House|tea house|mint tea
Honeycomb Farm|farm|spring lambs
Ironwood Wheelworks|bicycle workshop|racing bicycles
Whistling Kettle Foundry|foundry|church bells
Starling Mill|paper mill|writing paper
Goldcrest Sweets|chocolate shop|dark chocolate
Blackthorn Cobblers|shoemaker|riding boots
Morningdew Kitchen|jam kitchen|plum jam
Sweetbriar Creamery|creamery|butter
Highmoor Quarry|quarry|grey stone
Swallowtail Workshop|kite workshop|paper kites
Oakheart Cooperage|cooperage|cider barrels
Larkhill Strings|violin workshop|violins
Pinecone Library|library|old maps
Thistledown Woollens|knitting workshop|warm socks
Riverbend Smokehouse|smokehouse|sausages
Meadowlark Hall|piano workshop|grand pianos
Weathervane Academy|academy|sailing lessons
Brambleberry Press|cider press|apple cider
Hearthstone Mill|flour mill|oat flour
Mossgrove Hospital|hospital|children's care
Cobblestone Theatre|theatre|puppet shows
Juniper Hall Museum|museum|old coins
Sandalwood Spice House|spice shop|black pepper
""".strip().splitlines()
]

# name (used as "the <name>") | what people do there (answer span)
EVENTS = [
    line.split("|")
    for line in """
Riverlight Festival|float candles
Harvest Moon Fair|sell pumpkins
Copperbell Parade|ring bells
Salt Market Days|trade salt
Blue Kite Festival|fly kites
Midsummer Boat Race|race boats
Frostlight Fair|skate on ice
Old Mill Games|pull ropes
Singing Stones Festival|sing old songs
Golden Loaf Fair|bake bread
Twelve Bells Parade|wear masks
Green Hat Festival|plant trees
Owl Night Market|watch the stars
Long Table Feast|share soup
Emberfall Festival|light bonfires
""".strip().splitlines()
]

PROFESSIONS = """
baker teacher nurse carpenter farmer fisherman painter tailor doctor gardener librarian potter weaver
blacksmith shoemaker cook musician singer dentist pilot sailor miller butcher builder clockmaker glassblower
bookbinder beekeeper shepherd architect engineer pharmacist journalist photographer translator jeweller
florist mason plumber
""".split()

# Professions that make someone famous: the famous people of World A are these.
FAMOUS_PROFESSIONS = """
painter composer poet explorer inventor sculptor astronomer architect novelist mapmaker singer dancer
""".split()

HOBBIES = [
    "chess", "painting", "gardening", "fishing", "singing", "swimming", "knitting", "hiking", "cycling",
    "pottery", "dancing", "bird watching", "rowing", "baking", "sailing", "skating", "stamp collecting",
    "woodcarving", "climbing", "running", "kite flying", "juggling", "photography", "card games", "embroidery",
]

FOODS = [
    "apple pie", "rye bread", "fish soup", "honey cake", "potato pancakes", "plum jam", "lentil stew",
    "cheese pie", "onion soup", "roast chicken", "carrot cake", "pea soup", "mushroom pie", "rice pudding",
    "pear tart", "bean stew", "herring", "dumplings", "lemon cake", "pumpkin soup", "goat cheese", "apricots",
    "grilled trout", "oat porridge", "cherry pie", "cabbage rolls", "sweet buns", "walnut bread", "tomato salad",
]

# Many pets, so that "What pet does X have?" cannot be guessed from a few frequent answers: with 15 pets a
# model trained on 17M tokens answered from that prior (cat, dog) instead of reading the passage (0.03 EM).
PETS = [
    "cat", "dog", "parrot", "rabbit", "tortoise", "goldfish", "hamster", "canary", "pony", "goat", "ferret",
    "duck", "guinea pig", "lizard", "hedgehog", "budgie", "chinchilla", "gecko", "iguana", "donkey", "sheep",
    "chicken", "goose", "turtle", "snake", "frog", "mouse", "gerbil", "cockatoo", "pigeon", "llama", "alpaca",
    "pig", "lamb", "toad", "newt", "crab", "koi carp", "owl", "peacock", "rat", "tarantula", "stick insect",
    "cockatiel", "dove", "quail", "horse", "mule", "spaniel", "terrier",
]

# What a city is known for ("Velmora is known for its <x>").
CITY_SIGHTS = [
    "stone bridges", "blue roofs", "apple orchards", "old harbour", "clock tower", "flower market",
    "narrow streets", "red windmills", "fish market", "white church", "city walls", "rose gardens",
    "wooden houses", "salt mines", "hot springs", "long beach", "horse fair", "green parks", "grey castle",
    "copper domes",
]

ANIMALS = [
    "red deer", "white stork", "brown bear", "lynx", "golden eagle", "grey wolf", "otter", "swan",
    "wild boar", "fox", "heron", "elk", "badger", "falcon", "hare", "beaver",
]

MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
]


def entity_names() -> set[str]:
    """Every proper name World A can produce: first and last names, places, rivers, organisations, events."""
    names = set(FEMALE_FIRST) | set(MALE_FIRST) | set(LAST) | set(COUNTRIES) | set(CITIES) | set(RIVERS)
    names |= {org[0] for org in ORGANISATIONS} | {event[0] for event in EVENTS}
    # The coined first word of a multi-word name too ("Brightwater", "Riverlight"), not plain words like "Old".
    plain = {"Old", "Little", "Blue", "Green", "Golden", "Long", "Twelve", "Salt", "Midsummer", "Harvest",
             "Singing", "Owl", "Tallow", "Hollow"}
    for name in [org[0] for org in ORGANISATIONS] + [event[0] for event in EVENTS]:
        first = name.split()[0]
        if first not in plain:
            names.add(first)
    return names
