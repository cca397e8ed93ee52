package decode

// This file prints short events (the package documentation, "Short
// events" says how): every read is checked against len(data). It also
// prints structs whose fields a family member selects (node.conds).

// partial reports whether values of n can print when cut short.
func partial(n *node) bool {
	switch n.kind {
	case kString, kArray, kStruct, kUnion:
		return true
	}
	return false
}

// fits tells how much of a value of n at data[off:] data holds: all of
// it, part of it (for kinds that can print part), or nothing.
func fits(data []byte, off int, n *node) (whole, part bool) {
	end := off + int(n.size)
	if end <= len(data) && off <= len(data) {
		return true, false
	}
	return false, off < len(data) && partial(n)
}

// jsonPart appends as much of the value of n at data[off:] as data holds;
// null for a scalar it does not hold.
func (d *Decoder) jsonPart(dst, data []byte, off int, n *node) []byte {
	if whole, _ := fits(data, off, n); whole {
		return d.json(dst, data, off, n)
	}
	switch n.kind {
	case kString:
		if off < len(data) {
			return appendJSONString(dst, cstring(data[off:]))
		}
		return append(dst, '"', '"')
	case kArray:
		dst = append(dst, '[')
		stride := int(n.elem.size)
		for i := range int(n.n) {
			at := off + i*stride
			whole, part := fits(data, at, n.elem)
			if !whole && !part {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			if whole {
				dst = d.json(dst, data, at, n.elem)
			} else {
				dst = d.jsonPart(dst, data, at, n.elem)
			}
		}
		return append(dst, ']')
	case kStruct, kUnion:
		return d.jsonFields(dst, data, off, n)
	}
	return append(dst, "null"...)
}

// jsonFields appends a struct or union, leaving out the fields that data
// does not hold and those their selector hides.
func (d *Decoder) jsonFields(dst, data []byte, off int, n *node) []byte {
	dst = append(dst, '{')
	first := true
	for i := range n.fields {
		f := &n.fields[i]
		if f.sel != nil && !d.shown(data, off, f.sel) {
			continue
		}
		at := off + int(f.off)
		whole, part := fits(data, at, f.node)
		if !whole && !part {
			continue
		}
		key := f.jkey
		if first && key[0] == ',' {
			key = key[1:]
		}
		first = false
		dst = append(dst, key...)
		if whole {
			dst = d.json(dst, data, at, f.node)
		} else {
			dst = d.jsonPart(dst, data, at, f.node)
		}
	}
	return append(dst, '}')
}

// textField appends the text of field f of the struct at data[base:], as
// far as data holds it; nothing when it holds none of it.
func (d *Decoder) textField(dst, data []byte, base int, f *field) []byte {
	at := base + int(f.off)
	whole, part := fits(data, at, f.node)
	switch {
	case whole:
		return d.text(dst, data, at, f.node)
	case part:
		return d.textPart(dst, data, at, f.node)
	}
	return dst
}

// textPart is jsonPart for the text format; a scalar data does not hold
// prints nothing.
func (d *Decoder) textPart(dst, data []byte, off int, n *node) []byte {
	if whole, _ := fits(data, off, n); whole {
		return d.text(dst, data, off, n)
	}
	switch n.kind {
	case kString:
		if off < len(data) {
			return appendTextString(dst, cstring(data[off:]))
		}
		return dst
	case kArray:
		dst = append(dst, '[')
		stride := int(n.elem.size)
		for i := range int(n.n) {
			at := off + i*stride
			whole, part := fits(data, at, n.elem)
			if !whole && !part {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			if whole {
				dst = d.text(dst, data, at, n.elem)
			} else {
				dst = d.textPart(dst, data, at, n.elem)
			}
		}
		return append(dst, ']')
	case kStruct, kUnion:
		return d.textFields(dst, data, off, n)
	}
	return dst
}

// textFields is jsonFields for the text format: {a=1 b=2}.
func (d *Decoder) textFields(dst, data []byte, off int, n *node) []byte {
	dst = append(dst, '{')
	first := true
	for i := range n.fields {
		f := &n.fields[i]
		if f.sel != nil && !d.shown(data, off, f.sel) {
			continue
		}
		at := off + int(f.off)
		whole, part := fits(data, at, f.node)
		if !whole && !part {
			continue
		}
		key := f.tkey
		if first && key[0] == ' ' {
			key = key[1:]
		}
		first = false
		dst = append(dst, key...)
		if whole {
			dst = d.text(dst, data, at, f.node)
		} else {
			dst = d.textPart(dst, data, at, f.node)
		}
	}
	return append(dst, '}')
}
