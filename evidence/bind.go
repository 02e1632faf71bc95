package evidence

import (
	"strings"
)

// BindSubject returns the purl under which a statement subject named name is
// filed. A subject named by a purl is filed under that purl. Many producers
// name subjects by file instead (SLSA provenance of release tarballs, PyPI
// attestations of wheels); such a subject is filed under release, the purl
// the submitter names, but only when the signed file name itself carries
// that release's name and version, so that nobody can file a release's
// attestation under another release:
//
//   - the file name is the part of name after the last "/";
//   - it must start with the purl's name, "-" or "_", and the version (a
//     leading "v" on either side is optional), followed by the end of the
//     name or one of ". - _ +";
//   - names compare ignoring ASCII case, with "-", "_" and "." alike (PyPI
//     writes "pypi_attestations-0.0.19.tar.gz" for pkg:pypi/pypi-attestations).
//
// field names the subject for errors.
func BindSubject(name, release, field string) (Purl, error) {
	if strings.HasPrefix(name, "pkg:") {
		return subjectPurl(name, field)
	}
	if err := validateSubjectName(name, field); err != nil {
		return Purl{}, err
	}
	if release == "" {
		return Purl{}, fieldErr(field, "%s is not a Package URL such as pkg:pypi/requests@2.32.3; if it names a file of a release, submit it with that release's purl (evident submit --release pkg:<type>/<name>@<version>)", quote(name))
	}
	p, err := subjectPurl(release, "release")
	if err != nil {
		return Purl{}, err
	}
	if !p.HasVersion() {
		return Purl{}, fieldErr("release", "%s has no version; a file is part of a release, so name one", quote(release))
	}
	if !fileOfRelease(name, p.p.Name, p.p.Version) {
		return Purl{}, fieldErr(field, "%s does not carry the name and version of %s; Evident files a statement about a file only under the release the file name names", quote(name), p)
	}
	return p, nil
}

// fileOfRelease reports whether the file name at the end of path starts with
// pkgName, a separator and version, as BindSubject describes.
func fileOfRelease(path, pkgName, version string) bool {
	file := path[strings.LastIndexByte(path, '/')+1:]
	fold := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r == '_' || r == '.':
				return '-'
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return r
		}, s)
	}
	rest, ok := strings.CutPrefix(fold(file), fold(pkgName))
	if !ok || rest == "" || rest[0] != '-' {
		return false
	}
	rest = strings.TrimPrefix(rest[1:], "v")
	// Compare the version as written (only case-folded): its dots matter.
	rest = file[len(file)-len(rest):]
	v := strings.TrimPrefix(strings.TrimPrefix(version, "v"), "V")
	if len(rest) < len(v) || !strings.EqualFold(rest[:len(v)], v) {
		return false
	}
	rest = rest[len(v):]
	return rest == "" || strings.ContainsRune(".-_+", rune(rest[0]))
}
