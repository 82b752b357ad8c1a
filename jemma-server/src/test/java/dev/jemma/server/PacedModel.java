package dev.jemma.server;

/**
 * A stand-in model that answers one piece of text per millisecond, up to the request's {@code num_predict}, for as long
 * as its client stays: a long generation that holds its slot until the client goes, however fast the machine. (The
 * tiny real model ends a 100 000-token request at its end of turn, or at its full context, within a second once warm:
 * a test that needs the slot held while it sends another request would race it.)
 */
final class PacedModel implements ServedModel {
    @Override
    public Result run(Request request, Listener listener) {
        Integer limit = request.options().numPredict();
        int n = 0;
        while ((limit == null || n < limit) && listener.onText("x")) {
            n++;
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Result(1, 1, n, 1, 1, "cancel", new int[]{2});
            }
        }
        return new Result(1, 1, n, 1, 1, limit != null && n == limit ? "length" : "cancel", new int[]{2});
    }

    @Override
    public Info info() {
        return new StandInModel().info();
    }

    @Override
    public void close() {
    }
}
