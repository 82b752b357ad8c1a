package dev.jemma.server;

import org.eclipse.jetty.io.SelectorManager;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Caps the connections one client (IP address) may hold open, so that one client cannot use up the server's total:
 * a connection beyond the cap is closed as soon as it is accepted. Registered on the connector, which tells it of every
 * accepted and closed channel.
 */
final class ClientConnectionLimit implements SelectorManager.AcceptListener {
    private final int max;
    private final ConcurrentHashMap<InetAddress, Integer> open = new ConcurrentHashMap<>();
    /** The channels counted, and whose; removal decides who decrements, so each is counted down once. */
    private final ConcurrentHashMap<SelectableChannel, InetAddress> counted = new ConcurrentHashMap<>();

    ClientConnectionLimit(int max) {
        if (max < 1) throw new IllegalArgumentException("connections per client must be >= 1, got " + max);
        this.max = max;
    }

    @Override
    public void onAccepted(SelectableChannel channel) {
        InetAddress client = client(channel);
        if (client == null) return;
        counted.put(channel, client);
        if (open.merge(client, 1, Integer::sum) > max) {
            release(channel);
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a refused connection is best effort
            }
        }
    }

    @Override
    public void onClosed(SelectableChannel channel) {
        release(channel);
    }

    private void release(SelectableChannel channel) {
        InetAddress client = counted.remove(channel);
        if (client != null) open.computeIfPresent(client, (k, n) -> n > 1 ? n - 1 : null);
    }

    /** Connections open from this address now. */
    int open(InetAddress client) {
        return open.getOrDefault(client, 0);
    }

    private static InetAddress client(SelectableChannel channel) {
        try {
            SocketAddress a = channel instanceof SocketChannel s ? s.getRemoteAddress() : null;
            return a instanceof InetSocketAddress i ? i.getAddress() : null;
        } catch (IOException e) {
            return null;
        }
    }
}
