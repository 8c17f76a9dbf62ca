# `make san`: the unit and acceptance suites once more, with box, box-bundle
# and the unit tests built under ASan and UBSan (LeakSanitizer included) in
# build-san/. Part of `make test`.
.PHONY: san
san:
	$(MAKE) --no-print-directory SAN=1 BUILD=build-san unit acceptance
