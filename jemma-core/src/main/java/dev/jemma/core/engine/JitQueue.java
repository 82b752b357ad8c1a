package dev.jemma.core.engine;

import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

/**
 * What HotSpot's JIT is compiling now, read through its diagnostic commands (the {@code DiagnosticCommand} MBean, what
 * {@code jcmd PID Compiler.queue} prints). The compilers' total time ({@code CompilationMXBean}) grows only when a
 * compilation ends, so a stretch of work shorter than one C2 compilation of a wide kernel (up to ~1 s) can look quiet
 * while that compilation runs; the queue says so.
 */
public final class JitQueue {
    private JitQueue() {
    }

    /**
     * Whether C2 is compiling or has queued a method whose name contains {@code prefix} (e.g. {@code "dev.jemma."});
     * false where the JVM offers no such command.
     */
    public static boolean c2Busy(String prefix) {
        String queue;
        try {
            queue = dcmd("compilerQueue");
        } catch (IllegalStateException e) {
            return false;
        }
        return c2Busy(queue, prefix);
    }

    /** {@link #c2Busy(String)} on the text of {@code Compiler.queue}. */
    static boolean c2Busy(String queue, String prefix) {
        // "Current compiles:" (a line per compiler thread at work: "C2 CompilerThread0  id  tier  method …"), then
        // "C1 compile queue:" and "C2 compile queue:", each a line per queued method or "Empty"
        boolean c2Queue = false;
        for (String line : queue.split("\n")) {
            if (line.startsWith("C1 compile queue")) c2Queue = false;
            else if (line.startsWith("C2 compile queue")) c2Queue = true;
            else if ((c2Queue || line.startsWith("C2 ")) && line.contains(prefix)) return true;
        }
        return false;
    }

    /**
     * The text HotSpot's diagnostic command {@code operation} (e.g. {@code compilerQueue}, {@code compilerCodelist})
     * answers, without arguments.
     *
     * @throws IllegalStateException where the JVM has no such command
     */
    public static String dcmd(String operation) {
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName name = new ObjectName("com.sun.management:type=DiagnosticCommand");
            return (String) server.invoke(name, operation, new Object[]{new String[0]}, new String[]{String[].class.getName()});
        } catch (Exception e) {
            throw new IllegalStateException("HotSpot's diagnostic command " + operation + " is not available: " + e, e);
        }
    }
}
