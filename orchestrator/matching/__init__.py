"""Fellegi-Sunter record matching as pure functions: levels, patterns, EM, weights.

No I/O and no job machinery: the identity_match job type runs these inside its
map and reduce phases. A pair of records becomes one comparison level per field
(:mod:`.comparisons`), the levels pack into one integer pattern
(:mod:`.patterns`), EM runs on pattern counts and the model turns patterns into
match weights (:mod:`.model`).
"""
