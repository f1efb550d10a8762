"""Value pools the synthetic people generator draws from, most common first.

Written for jobctl from common US given names, surnames, street and city names
(no list was copied). Surnames get a long tail from syllable pairs so that a
million people do not collapse onto a few hundred names. Accented and
multi-word names are included on purpose: they exercise transliteration and
tokenization.
"""

from __future__ import annotations

GIVEN_NAMES = """
james mary robert patricia john jennifer michael linda william elizabeth david barbara
richard susan joseph jessica thomas sarah charles karen christopher nancy daniel lisa
matthew betty anthony margaret donald sandra mark ashley paul kimberly stephen emily
andrew donna kenneth michelle joshua dorothy kevin carol brian amanda george melissa
edward deborah ronald stephanie timothy rebecca jason sharon jeffrey laura ryan cynthia
jacob kathleen gary amy nicholas shirley eric angela jonathan helen larry anna justin
brenda scott pamela brandon nicole benjamin emma samuel samantha frank katherine gregory
christine raymond debra alexander rachel patrick catherine jack carolyn dennis janet
jerry ruth tyler maria aaron heather henry diane adam virginia douglas julie nathaniel
joyce peter victoria zachary olivia kyle kelly walter christina harold lauren jeremy
joan ethan evelyn carl judith keith megan roger cheryl gerald andrea christian hannah
terence martha sean jacqueline arthur frances austin gloria noah ann lawrence teresa
jesse kathryn bryan sara jordan janice albert jean dylan alice bruce madison gabriel
doris alan abigail juan julia logan judy wayne grace ralph denise roy amber eugene
marilyn randy beverly vincent danielle russell theresa louis sophia philip marie
bradley diana alfred natalie frederick isabella archibald charlotte clifford rose
leonard alexis victor kayla stanley valerie herbert constance
jose zoe francois renee chloe andre mary-jane jean-luc
"""

SURNAMES = """
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez
lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson
white harris sanchez clark ramirez lewis robinson walker young allen king wright scott
torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter
roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed
kelly howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray
mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez
o'brien muller schmidt mcdonald o'connor van-der-berg de-la-cruz fischer weber schneider
"""

SURNAME_ONSETS = """
al bar cal dun el fen gar hol ing kel lar mor nor pem ral sel tor wen yar zel ash brook
craw dal ever fair glen hart kings lind marsh north oak pen ross stan thorn whit wood har
"""
SURNAME_CODAS = "ton ford ley wood man son field well by worth stone ridge more dale berg stein er ham wick land"  # noqa: E501

ACCENTED = {"jose": "josé", "zoe": "zoë", "francois": "françois", "renee": "renée",
            "chloe": "chloé", "andre": "andré", "muller": "müller"}  # fmt: skip

STREET_NAMES = """
main oak maple cedar park pine elm washington lake hill walnut spruce ridge church
willow mill river sunset highland jackson lincoln franklin jefferson madison chestnut
meadow forest spring valley cherry birch dogwood hickory laurel magnolia center union
school north south east west prospect railroad market liberty adams monroe grant
"""

STREET_TYPES = [
    ("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Lane", "Ln"), ("Drive", "Dr"),
    ("Court", "Ct"), ("Boulevard", "Blvd"), ("Place", "Pl"), ("Way", "Way"), ("Terrace", "Ter"),
]  # fmt: skip

CITIES = """
springfield franklin greenville bristol clinton fairview salem madison georgetown arlington
ashland burlington manchester milton newport oxford riverside centerville dayton lexington
winchester auburn dover hudson kingston marion jackson chester clayton
"""

EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
                 "icloud.com", "mail.com", "example.org"]  # fmt: skip

AREA_CODES = [212, 312, 415, 617, 202, 305, 404, 512, 206, 303, 702, 801, 919, 612, 713,
              214, 469, 480, 602, 718, 646, 347, 503, 971, 614]  # fmt: skip


def words(block: str) -> list[str]:
    return block.split()


def surnames() -> list[str]:
    """Common surnames first, then the syllable-pair tail (thousands of rarer names)."""
    common = words(SURNAMES)
    tail = [a + b for b in words(SURNAME_CODAS) for a in words(SURNAME_ONSETS)]
    return list(dict.fromkeys(common + tail))
