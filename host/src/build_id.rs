//! The running executable's GNU build ID, read from its ELF notes: what tells two builds of one
//! version apart, so that a run is answered only from runs of the very same build (a change to a
//! host function can change a model's output without a version bump).

use std::sync::OnceLock;

const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// More note bytes than any linker writes; the executable is the host's own, but a size read
/// from a file is checked before it is allocated all the same.
const MAX_NOTES: u64 = 64 * 1024;

/// This build's ID as lower-case hex, or `None` where it cannot be read (not Linux, or linked
/// without one). Read once per process.
pub fn of_this_build() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        use std::os::unix::fs::FileExt;
        // /proc/self/exe opens the image this process runs, even if its file was replaced since.
        let exe = std::fs::File::open("/proc/self/exe").ok()?;
        build_id_in(|offset, len| {
            let mut bytes = vec![0; len];
            exe.read_exact_at(&mut bytes, offset).ok()?;
            Some(bytes)
        })
    })
    .as_deref()
}

/// The GNU build ID in the ELF image that `read(offset, len)` reads from: its header, then its
/// program headers, then each `PT_NOTE` segment's notes. Only 64-bit little-endian images.
fn build_id_in(read: impl Fn(u64, usize) -> Option<Vec<u8>>) -> Option<String> {
    let header = read(0, 64)?;
    if header.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let program_headers = u64_at(&header, 0x20)?;
    let (entry_size, entries) = (u16_at(&header, 0x36)? as u64, u16_at(&header, 0x38)? as u64);
    if entry_size < 56 || entry_size * entries > MAX_NOTES {
        return None;
    }
    let table = read(program_headers, (entry_size * entries) as usize)?;
    table.chunks_exact(entry_size as usize).filter(|p| u32_at(p, 0) == Some(PT_NOTE)).find_map(|p| {
        let (offset, size) = (u64_at(p, 8)?, u64_at(p, 32)?);
        if size > MAX_NOTES {
            return None;
        }
        gnu_build_id(&read(offset, size as usize)?)
    })
}

/// The `NT_GNU_BUILD_ID` note among `notes`, as hex: each note is its name's and description's
/// sizes and its type (u32 each), then the name and the description, each padded to 4 bytes.
fn gnu_build_id(mut notes: &[u8]) -> Option<String> {
    let padded = |n: u32| (n as usize).checked_add(3).map(|n| n & !3);
    while notes.len() >= 12 {
        let (name_size, description_size, kind) = (u32_at(notes, 0)?, u32_at(notes, 4)?, u32_at(notes, 8)?);
        let name_end = 12usize.checked_add(padded(name_size)?)?;
        let end = name_end.checked_add(padded(description_size)?)?;
        let note = notes.get(..end)?;
        if kind == NT_GNU_BUILD_ID && note.get(12..12 + name_size as usize)? == b"GNU\0" {
            return Some(hex::encode(note.get(name_end..name_end + description_size as usize)?));
        }
        notes = &notes[end..];
    }
    None
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, description: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        for v in [name.len() as u32, description.len() as u32, kind] {
            n.extend_from_slice(&v.to_le_bytes());
        }
        for part in [name, description] {
            n.extend_from_slice(part);
            n.resize(n.len().next_multiple_of(4), 0);
        }
        n
    }

    /// An ELF image: header, one program header table of `segments` (type, notes), the notes after it.
    fn image(segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut header = vec![0u8; 64];
        header[..6].copy_from_slice(b"\x7fELF\x02\x01");
        header[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        header[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        header[0x38..0x3a].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut offset = 64 + 56 * segments.len() as u64;
        let (mut table, mut bodies) = (Vec::new(), Vec::new());
        for (kind, body) in segments {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&kind.to_le_bytes());
            p[8..16].copy_from_slice(&offset.to_le_bytes());
            p[32..40].copy_from_slice(&(body.len() as u64).to_le_bytes());
            table.extend(p);
            bodies.extend_from_slice(body);
            offset += body.len() as u64;
        }
        [header, table, bodies].concat()
    }

    fn read_from(image: &[u8]) -> impl Fn(u64, usize) -> Option<Vec<u8>> + '_ {
        |offset, len| image.get(offset as usize..offset as usize + len).map(<[u8]>::to_vec)
    }

    #[test]
    fn the_gnu_build_id_note_is_found_among_others() {
        let notes =
            [note(b"GNU\0", 1, &[0; 16]), note(b"GNU\0", NT_GNU_BUILD_ID, &[0xab, 0x01, 0xff])].concat();
        let other = note(b"stapsdt\0", NT_GNU_BUILD_ID, &[7; 20]);
        let elf = image(&[(1, vec![0; 8]), (PT_NOTE, other), (PT_NOTE, notes)]);
        assert_eq!(build_id_in(read_from(&elf)).as_deref(), Some("ab01ff"));
    }

    #[test]
    fn an_image_without_one_or_truncated_or_not_elf_has_none() {
        let elf = image(&[(PT_NOTE, note(b"GNU\0", 1, &[1; 4]))]);
        assert_eq!(build_id_in(read_from(&elf)), None);
        let with_id = image(&[(PT_NOTE, note(b"GNU\0", NT_GNU_BUILD_ID, &[1; 20]))]);
        for cut in [10, 70, with_id.len() - 3] {
            assert_eq!(build_id_in(read_from(&with_id[..cut])), None, "cut at {cut}");
        }
        let mut not_elf = with_id.clone();
        not_elf[4] = 1; // 32-bit
        assert_eq!(build_id_in(read_from(&not_elf)), None);
        // A note claiming a description larger than its segment.
        let mut lying = note(b"GNU\0", NT_GNU_BUILD_ID, &[1; 4]);
        lying[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(build_id_in(read_from(&image(&[(PT_NOTE, lying)]))), None);
    }

    #[test]
    fn this_build_has_one() {
        // Linkers on the platforms Sieve runs on write one by default; without it no run is
        // answered from an earlier one, so its absence here would be a regression worth seeing.
        let id = of_this_build().expect("a GNU build ID in the test executable");
        assert!(id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
}
