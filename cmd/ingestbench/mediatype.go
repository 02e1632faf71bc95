package main

import "github.com/evident-dev/evident/evidence/detect"

// resultMediaType returns the media type detect recognised the document as.
func resultMediaType(r *detect.Result) string { return "" }
