package dev.jemma.tools.store;

/** Receives progress of a pull; called from the pulling thread. */
public interface PullListener {
    /** A phase change: "pulling manifest", "pulling FILE", "verifying sha256 digest", "writing manifest", "success". */
    void status(String status);

    /** Bytes of {@code digest} present so far (including a resumed prefix) out of {@code total}. */
    void progress(String digest, long completed, long total);

    /** A listener that ignores everything. */
    PullListener NONE = new PullListener() {
        @Override
        public void status(String status) {
        }

        @Override
        public void progress(String digest, long completed, long total) {
        }
    };
}
