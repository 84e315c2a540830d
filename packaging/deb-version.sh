#!/bin/sh
# SPDX-License-Identifier: MIT
# deb-version.sh VERSION [DEB_VERSION]: run by `make deb` in the scratch copy of the tree.
# Checks that debian/changelog is at the upstream VERSION configure has; with DEB_VERSION,
# adds a changelog entry for that version on top (a rebuild, e.g. for an upgrade test).
set -eu
version=$1
deb_version=${2:-}

top=$(dpkg-parsechangelog -S Version)
upstream=${top%-*}
upstream=${upstream#*:}
if [ "$upstream" != "$version" ]; then
        echo "deb-version.sh: packaging/debian/changelog is at $top but configure.ac at $version;" >&2
        echo "deb-version.sh: add a changelog entry for $version-1" >&2
        exit 1
fi
[ -n "$deb_version" ] || exit 0

if ! dpkg --compare-versions "$deb_version" gt "$top"; then
        echo "deb-version.sh: DEB_VERSION $deb_version is not newer than $top" >&2
        exit 1
fi
maintainer=$(dpkg-parsechangelog -S Maintainer)
{
        printf 'medic (%s) unstable; urgency=medium\n\n' "$deb_version"
        printf '  * Rebuild as %s.\n\n' "$deb_version"
        printf ' -- %s  %s\n\n' "$maintainer" "$(date -R)"
        cat debian/changelog
} > debian/changelog.new
mv debian/changelog.new debian/changelog
