package dev.jemma.server;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives the web chat page in headless Chromium through the system's chromedriver (Debian's chromium-driver; no
 * driver download). Skipped, saying why, where no chromedriver is installed.
 */
class WebChatBrowserTest {
    @TempDir
    Path home;

    private static File chromedriver() {
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

    @Test
    void typesAMessageAndSeesTheStreamedAnswer() throws Exception {
        File driverFile = chromedriver();
        Assumptions.assumeTrue(driverFile != null, "no chromedriver installed (apt-get install chromium chromium-driver)");
        try (JemmaServer server = TestServers.start(TestServers.config(), home)) {
            ChromeOptions options = new ChromeOptions();
            String bin = chromium();
            if (bin != null) options.setBinary(bin);
            options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-extensions", "--no-first-run", "--window-size=1100,800",
                    "--user-data-dir=" + home.resolve("chrome-profile"));
            ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driverFile)
                    .usingAnyFreePort().withLogFile(home.resolve("chromedriver.log").toFile()).build();
            ChromeDriver driver = new ChromeDriver(service, options);
            try {
                driver.get(server.uri() + "/");
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                wait.until(d -> !new Select(d.findElement(By.id("model"))).getOptions().isEmpty());
                assertThat(new Select(driver.findElement(By.id("model"))).getFirstSelectedOption().getText())
                        .isEqualTo(TestServers.MODEL);
                // Markdown: code blocks, inline code, emphasis, lists; model text can never inject markup.
                String html = (String) driver.executeScript("return window.jemmaRenderMarkdown(arguments[0]);",
                        "# Title\nSome **bold** and `code`.\n\n- one\n- two\n\n```java\nif (a < b) x();\n```\n<img src=x onerror=alert(1)>");
                assertThat(html).contains("<h3>Title</h3>", "<strong>bold</strong>", "<code>code</code>", "<ul><li>one</li><li>two</li></ul>",
                        "<pre><code class=\"language-java\">if (a &lt; b) x();\n</code></pre>", "&lt;img src=x onerror=alert(1)&gt;");
                assertThat(html).doesNotContain("<img");
                // Bound the tiny model's (gibberish) answers so the test stays quick.
                driver.findElement(By.id("max-tokens")).sendKeys("60");
                WebElement input = driver.findElement(By.id("input"));
                input.sendKeys("Hello, who are you?");
                input.sendKeys(Keys.ENTER);
                // The answer streams in; the send button comes back when it is done.
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 1));
                wait.until(d -> d.findElement(By.id("send")).isEnabled()
                        && d.findElements(By.cssSelector(".msg.streaming")).isEmpty());
                WebElement answer = driver.findElement(By.cssSelector(".msg.assistant"));
                assertThat(answer.findElement(By.cssSelector(".meta")).getText()).contains("tokens");
                assertThat(answer.getText()).isNotBlank();
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                // A second turn continues the conversation (both turns stay on the page).
                input.sendKeys("Tell me more");
                driver.findElement(By.id("send")).click();
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 2));
                wait.until(d -> d.findElement(By.id("send")).isEnabled());
                assertThat(driver.findElements(By.cssSelector(".msg.user"))).hasSize(2);
                File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
                Path out = Path.of("target", "screenshot-webchat.png");
                Files.createDirectories(out.getParent());
                Files.copy(shot.toPath(), out, StandardCopyOption.REPLACE_EXISTING);
                String extra = System.getProperty("jemma.screenshot");
                if (extra != null && !extra.isBlank()) Files.copy(shot.toPath(), Path.of(extra), StandardCopyOption.REPLACE_EXISTING);
                // Stop: an unbounded answer is stopped mid-stream, and the page is ready for the next message.
                // The tiny model may end a (gibberish) answer on its own before the click lands: then try again
                // in a new chat with another prompt.
                driver.findElement(By.id("max-tokens")).clear();
                boolean stopped = false;
                for (String prompt : List.of("Go on and on", "Tell me a very long story", "Keep talking forever")) {
                    driver.findElement(By.id("new-chat")).click();
                    // On a quiet machine the tiny model finishes an answer in well under the time a WebDriver
                    // round trip takes, so the click is made in the page itself, as soon as the first streamed
                    // text is rendered (a user's click, just without the WebDriver latency).
                    driver.executeScript("""
                            const obs = new MutationObserver(() => {
                              const m = document.querySelector('.msg.assistant.streaming');
                              if (m && m.textContent.trim().length > 0) { obs.disconnect(); document.getElementById('stop').click(); }
                            });
                            obs.observe(document.body, {subtree: true, childList: true, characterData: true});""");
                    input.sendKeys(prompt);
                    input.sendKeys(Keys.ENTER);
                    wait.until(d -> d.findElements(By.cssSelector(".msg.assistant")).size() == 1);
                    wait.until(d -> d.findElement(By.id("send")).isEnabled());
                    if (driver.findElement(By.id("status")).getText().equals("Stopped.")) {
                        stopped = true;
                        break;
                    }
                }
                assertThat(stopped).as("an answer was stopped by the Stop button").isTrue();
                // The server notices the closed stream and frees the slot.
                wait.until(d -> server.scheduler.running() == 0);
            } finally {
                driver.quit();
            }
        }
    }
}
