package dev.lookupffn.pytorch;

import dev.lookupffn.LookupFfnException.FormatException;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip file that is already memory-mapped (torch's serialization format is a zip
 * written by miniz: stored entries, data aligned to 64 bytes through a padding extra field, zip64 past 4 GiB).
 * Every offset and size is checked against the file before it is used, so a lying directory is a
 * {@link FormatException}, never a read outside the mapping. Stored entries are handed out as zero-copy slices;
 * deflated ones only as small heap copies with a size cap.
 */
final class ZipArchive {
    /** Most entries a directory may list (a torch checkpoint has one per storage; real ones have thousands). */
    static final int MAX_ENTRIES = 1 << 22;

    static final int STORED = 0, DEFLATED = 8;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int EOCD = 0x06054b50, EOCD64 = 0x06064b50, EOCD64_LOCATOR = 0x07064b50,
            CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

    /** One entry; {@code dataOffset} is where its (stored or compressed) bytes start in the file. */
    record Entry(String name, int method, long compressedSize, long size, long dataOffset) {}

    private final String source;
    private final MemorySegment file;
    private final Map<String, Entry> entries;

    private ZipArchive(String source, MemorySegment file, Map<String, Entry> entries) {
        this.source = source;
        this.file = file;
        this.entries = entries;
    }

    /** Reads the directory of {@code file} (the whole mapped file); {@code source} names it in messages. */
    static ZipArchive read(String source, MemorySegment file) {
        long size = file.byteSize();
        long eocd = findEndOfDirectory(source, file);
        long count = u16(file, eocd + 10), cdSize = u32(file, eocd + 12), cdOffset = u32(file, eocd + 16);
        if (count == 0xFFFF || cdSize == 0xFFFFFFFFL || cdOffset == 0xFFFFFFFFL) {
            // zip64: the locator sits right before the classic record and points at the zip64 record
            long loc = eocd - 20;
            if (loc < 0 || u32i(file, loc) != EOCD64_LOCATOR)
                throw new FormatException(source + ": zip directory needs zip64 fields but has no zip64 locator");
            long rec = u64(file, loc + 8);
            if (rec < 0 || rec > loc - 56 || u32i(file, rec) != EOCD64)
                throw new FormatException(source + ": zip64 end-of-directory record offset " + rec + " is invalid");
            count = u64(file, rec + 32);
            cdSize = u64(file, rec + 40);
            cdOffset = u64(file, rec + 48);
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > size || cdSize > size - cdOffset)
            throw new FormatException(source + ": zip central directory [" + cdOffset + ", +" + cdSize
                    + ") lies outside the " + size + "-byte file");
        if (count < 0 || count > MAX_ENTRIES || count > cdSize / 46)
            throw new FormatException(source + ": zip directory claims " + count + " entries in " + cdSize + " bytes");
        Map<String, Entry> entries = new LinkedHashMap<>();
        long p = cdOffset, end = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            if (p > end - 46 || u32i(file, p) != CENTRAL)
                throw new FormatException(source + ": zip central directory entry " + i + " is truncated or corrupt");
            int flags = u16(file, p + 8), method = u16(file, p + 10);
            long csize = u32(file, p + 20), usize = u32(file, p + 24), local = u32(file, p + 42);
            int nameLen = u16(file, p + 28), extraLen = u16(file, p + 30), commentLen = u16(file, p + 32);
            long next = p + 46 + nameLen + extraLen + commentLen;
            if (next > end) throw new FormatException(source + ": zip central directory entry " + i + " runs past the directory");
            String name = utf8(source, file.asSlice(p + 46, nameLen));
            if ((flags & 1) != 0) throw new FormatException(source + ": zip entry '" + name + "' is encrypted");
            // zip64 extra field: the 8-byte values of whichever 32-bit fields were saturated, in this order
            long x = p + 46 + nameLen, xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = u16(file, x), len = u16(file, x + 2);
                if (x + 4 + len > xEnd) throw new FormatException(source + ": zip entry '" + name + "' has a truncated extra field");
                if (id == 1) {
                    long q = x + 4, qEnd = q + len;
                    if (usize == 0xFFFFFFFFL) { usize = need8(source, name, file, q, qEnd); q += 8; }
                    if (csize == 0xFFFFFFFFL) { csize = need8(source, name, file, q, qEnd); q += 8; }
                    if (local == 0xFFFFFFFFL) { local = need8(source, name, file, q, qEnd); }
                }
                x += 4 + len;
            }
            if (local < 0 || local > size - 30 || u32i(file, local) != LOCAL)
                throw new FormatException(source + ": zip entry '" + name + "' has no local header at offset " + local);
            long data = local + 30 + u16(file, local + 26) + u16(file, local + 28);
            if (csize < 0 || usize < 0 || data > size || csize > size - data)
                throw new FormatException(source + ": zip entry '" + name + "' ([" + data + ", +" + csize
                        + ")) lies outside the " + size + "-byte file");
            if (method == STORED && csize != usize)
                throw new FormatException(source + ": stored zip entry '" + name + "' has compressed size " + csize
                        + " but size " + usize);
            if (entries.put(name, new Entry(name, method, csize, usize, data)) != null)
                throw new FormatException(source + ": zip entry '" + name + "' appears twice");
            p = next;
        }
        return new ZipArchive(source, file, Collections.unmodifiableMap(entries));
    }

    private static long findEndOfDirectory(String source, MemorySegment file) {
        long size = file.byteSize();
        // the record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file
        for (long p = size - 22; p >= 0 && p >= size - 22 - 65535; p--)
            if (u32i(file, p) == EOCD && p + 22 + u16(file, p + 20) <= size) return p;
        throw new FormatException(source + ": not a zip file (no end-of-central-directory record)");
    }

    Map<String, Entry> entries() {
        return entries;
    }

    Entry entry(String name) {
        return entries.get(name);
    }

    /** The bytes of a stored entry, as a slice of the mapping (no copy). */
    MemorySegment stored(Entry e) {
        if (e.method() != STORED)
            throw new FormatException(source + ": zip entry '" + e.name() + "' is compressed (method " + e.method()
                    + "); torch writes tensor storages uncompressed, re-save the file with torch.save");
        return file.asSlice(e.dataOffset(), e.size());
    }

    /** A heap copy of a small entry, stored or deflated; more than {@code cap} bytes is an error (zip bombs). */
    byte[] read(Entry e, long cap) {
        if (e.size() > cap)
            throw new FormatException(source + ": zip entry '" + e.name() + "' claims " + e.size()
                    + " bytes, more than the " + cap + " allowed");
        if (e.method() == STORED) return stored(e).toArray(ValueLayout.JAVA_BYTE);
        if (e.compressedSize() > cap + (cap >> 6) + 1024) // deflate never grows data by more than a few bytes per block
            throw new FormatException(source + ": zip entry '" + e.name() + "' has " + e.compressedSize()
                    + " compressed bytes, more than the " + cap + " allowed");
        if (e.method() != DEFLATED)
            throw new FormatException(source + ": zip entry '" + e.name() + "' uses unsupported compression method " + e.method());
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(file.asSlice(e.dataOffset(), e.compressedSize()).asByteBuffer());
            ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(e.size(), 1 << 20));
            byte[] buf = new byte[64 << 10];
            // inflate at most one byte past the declared size: more is a lie (and maybe a bomb)
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) break;
                out.write(buf, 0, n);
                if (out.size() > e.size())
                    throw new FormatException(source + ": zip entry '" + e.name() + "' inflates to more than its declared "
                            + e.size() + " bytes");
            }
            if (!inflater.finished() || out.size() != e.size())
                throw new FormatException(source + ": zip entry '" + e.name() + "' inflates to " + out.size()
                        + " bytes, not the declared " + e.size());
            return out.toByteArray();
        } catch (DataFormatException ex) {
            throw new FormatException(source + ": zip entry '" + e.name() + "' is not valid deflate data: " + ex.getMessage());
        } finally {
            inflater.end();
        }
    }

    private static long need8(String source, String name, MemorySegment f, long q, long qEnd) {
        if (q + 8 > qEnd) throw new FormatException(source + ": zip entry '" + name + "' has a short zip64 extra field");
        return u64(f, q);
    }

    private static String utf8(String source, MemorySegment bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toArray(ValueLayout.JAVA_BYTE))).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(source + ": a zip entry name is not valid UTF-8");
        }
    }

    private static int u16(MemorySegment f, long p) {
        return f.get(U16, p) & 0xFFFF;
    }

    private static long u32(MemorySegment f, long p) {
        return f.get(U32, p) & 0xFFFFFFFFL;
    }

    private static int u32i(MemorySegment f, long p) {
        return f.get(U32, p);
    }

    /** A zip64 value; above Long.MAX_VALUE it is negative, which every caller rejects. */
    private static long u64(MemorySegment f, long p) {
        return f.get(U64, p);
    }
}
