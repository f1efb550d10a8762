"""``type: report``: a dataset profile (see :mod:`.processor`)."""
