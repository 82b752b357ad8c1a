package dev.jemma.server;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Headless Chromium through the system's chromedriver (Debian's chromium-driver; no driver download) for the web page
 * tests, and the steps they share. {@link #start} skips the test, saying why, where no chromedriver is installed.
 */
final class Browser {
    private Browser() {
    }

    static File chromedriver() {
        for (String p : List.of(System.getProperty("webdriver.chrome.driver", ""), "/usr/bin/chromedriver",
                "/usr/lib/chromium/chromedriver")) {
            if (!p.isEmpty() && new File(p).canExecute()) return new File(p);
        }
        return null;
    }

    private static String chromium() {
        for (String p : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")) {
            if (new File(p).canExecute()) return p;
        }
        return null;
    }

    static void assumeInstalled() {
        Assumptions.assumeTrue(chromedriver() != null, "no chromedriver installed (apt-get install chromium chromium-driver)");
    }

    /** A browser whose profile (and so the page's stored conversations) lives under {@code home}. */
    static ChromeDriver start(Path home) {
        File driverFile = chromedriver();
        Assumptions.assumeTrue(driverFile != null, "no chromedriver installed (apt-get install chromium chromium-driver)");
        ChromeOptions options = new ChromeOptions();
        String bin = chromium();
        if (bin != null) options.setBinary(bin);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--no-first-run", "--window-size=1200,800",
                "--user-data-dir=" + home.resolve("chrome-profile"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driverFile)
                .usingAnyFreePort().withLogFile(home.resolve("chromedriver.log").toFile()).build();
        return new ChromeDriver(service, options);
    }

    /** Opens (or reloads) the page and waits until it has listed the models. */
    static WebDriverWait open(ChromeDriver driver, JemmaServer server, Duration timeout) {
        driver.get(server.uri() + "/");
        // the page re-renders the sidebar and messages as it goes (a rename, a stored answer), so an element a condition
        // found can be replaced before it reads its text: try again then, as for an element not there yet
        WebDriverWait wait = new WebDriverWait(driver, timeout);
        wait.ignoring(StaleElementReferenceException.class);
        wait.until(d -> !new Select(d.findElement(By.id("model"))).getOptions().isEmpty());
        return wait;
    }

    /**
     * {@code wait.until(condition)}, failing with what the page showed when it timed out (its conversation id, messages,
     * sidebar, status and console): a browser test that timed out once in CI (after a reload, the stored answer never
     * rendered) could not be reproduced, and a bare TimeoutException says nothing about why.
     */
    static void until(ChromeDriver driver, WebDriverWait wait, java.util.function.Function<WebDriver, Boolean> condition, String what) {
        try {
            wait.until(condition::apply);
        } catch (org.openqa.selenium.TimeoutException e) {
            String state;
            try {
                state = "current conversation " + driver.executeScript("return localStorage.getItem('jemma.current')")
                        + "; sidebar " + conversations(driver)
                        + "; messages " + driver.executeScript("return document.getElementById('messages').innerHTML")
                        + "; page text " + driver.executeScript("return document.body.innerText.slice(0, 1500)")
                        + "; console " + driver.manage().logs().get("browser").getAll();
            } catch (RuntimeException inner) {
                state = "(the page's state could not be read: " + inner + ")";
            }
            throw new AssertionError("timed out waiting for " + what + "; " + state, e);
        }
    }

    /**
     * Sets the page's temperature to 0: the tiny model's answers are then the same every run, where a test assumes
     * something of them (a tokens/s figure needs two tokens or more; a sampled answer can end at its first).
     */
    static void greedy(WebDriver d) {
        WebElement temperature = d.findElement(By.id("temperature"));
        temperature.clear();
        temperature.sendKeys("0");
    }

    /**
     * Records the body of every request the page makes, in {@code window.sentBodies}, and the text of every chat answer
     * the server streams back (its {@code message.content} pieces joined, exactly as sent), in {@code window.answers}.
     * Compare what the page sends back with the latter, not with the page's rendering: the answer is rendered as
     * markdown and WebDriver's getText trims each line, so a random-weight model's answer with "\n " or a '*' in it
     * reads differently on the page (CI of 80be06a failed on that).
     */
    static void recordRequests(ChromeDriver driver) {
        driver.executeScript("""
                window.sentBodies = [];
                window.answers = [];
                const orig = window.fetch;
                window.fetch = (u, init) => {
                  const body = init && init.body;
                  if (body) window.sentBodies.push(body);
                  const reply = orig(u, init);
                  if (typeof body !== 'string' || !body.includes('"messages"')) return reply;
                  const i = window.answers.push(null) - 1;
                  return reply.then((r) => {
                    r.clone().text().then((t) => {
                      window.answers[i] = t.split('\\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
                          .map((c) => (c.message && c.message.content) || '').join('');
                    }, (e) => { window.answers[i] = 'answer not read: ' + e; });
                    return r;
                  });
                };""");
    }

    /** The text of the last chat answer the server sent (see {@link #recordRequests}), once it has been read in full. */
    static String lastAnswer(ChromeDriver driver, WebDriverWait wait) {
        wait.until(d -> (Boolean) driver.executeScript("return window.answers.length > 0 && window.answers.at(-1) !== null;"));
        return (String) driver.executeScript("return window.answers.at(-1);");
    }

    /** The last /api/chat body the page sent (see {@link #recordRequests}). */
    static String lastChatBody(ChromeDriver driver) {
        return (String) driver.executeScript("return window.sentBodies.filter(b => b.includes('\"messages\"')).pop();");
    }

    /**
     * Types a message, sends it with Enter and waits until its answer has finished streaming (the page shows the user's
     * message and sets the busy state together, so "one more user message and not busy" means the answer is done).
     */
    static void ask(WebDriver d, WebDriverWait wait, String text) {
        int before = d.findElements(By.cssSelector(".msg.user")).size();
        WebElement input = d.findElement(By.id("input"));
        input.sendKeys(text);
        input.sendKeys(Keys.ENTER);
        wait.until(x -> x.findElements(By.cssSelector(".msg.user")).size() == before + 1 && idle(x));
    }

    /** Waits until the page has sent its {@code n}-th /api/chat request (see {@link #recordRequests}) and is done with it. */
    static void awaitRequest(ChromeDriver driver, WebDriverWait wait, long n) {
        wait.until(x -> chatRequests(driver) >= n && idle(x));
    }

    static long chatRequests(ChromeDriver driver) {
        return (Long) driver.executeScript("return window.sentBodies.filter(b => b.includes('\"messages\"')).length;");
    }

    static boolean idle(WebDriver d) {
        return d.findElement(By.id("send")).isEnabled() && d.findElements(By.cssSelector(".msg.streaming")).isEmpty();
    }

    /** The titles in the sidebar, newest first. */
    static List<String> conversations(WebDriver d) {
        return d.findElements(By.cssSelector("#conversations .conversation .open")).stream().map(WebElement::getText).toList();
    }

    static List<String> texts(WebDriver d, String css) {
        return d.findElements(By.cssSelector(css)).stream().map(WebElement::getText).toList();
    }
}
