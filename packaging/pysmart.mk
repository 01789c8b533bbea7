# pySMART, which neither Debian nor EPEL packages: the packages carry this sdist's
# pySMART/ unchanged in /usr/lib/vigie/python. Included by the Makefile (download) and by
# debian/rules (verification); packaging/rpm/vigie.spec repeats the three values (a test
# checks they agree).
PYSMART_VERSION = 1.4.3
PYSMART_URL = https://files.pythonhosted.org/packages/84/41/770af82fc6fd09eafb051ebd81386aed762cdd5267e293bcdb0f94dcc5d1/pysmart-1.4.3.tar.gz
PYSMART_SHA256 = 64bcce7da044efe9e23f7a813ce748775abd4803a7fc9b9617f530a56853c179
