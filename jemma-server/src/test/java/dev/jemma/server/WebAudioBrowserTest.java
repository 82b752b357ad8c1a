package dev.jemma.server;

import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web page's audio: a WAV file attached and a microphone recording (Chromium's fake media stream) each reach a
 * Gemma 3n model as an audio part (the answer's prompt counts its 188 soft tokens). Skipped where no chromedriver is
 * installed or the multimodal fixtures are missing.
 */
class WebAudioBrowserTest {
    @TempDir
    Path home;

    private static File chromedriver() {
        for (String p : List.of(System.getProperty("webdriver.chrome.driver", ""), "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")) {
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

    /** Sends a message and waits for its answer; returns the answer's element. */
    private static WebElement ask(WebDriver d, WebDriverWait wait, String text, int answers) {
        WebElement input = d.findElement(By.id("input"));
        input.sendKeys(text);
        input.sendKeys(Keys.ENTER);
        wait.until(x -> x.findElements(By.cssSelector(".msg.assistant")).size() == answers
                && x.findElement(By.id("send")).isEnabled() && x.findElements(By.cssSelector(".msg.streaming")).isEmpty());
        return d.findElements(By.cssSelector(".msg.assistant")).get(answers - 1);
    }

    /** The prompt's new-token count from an answer's meta line ("… · prompt N new tokens"). */
    private static int promptTokens(WebElement answer) {
        String meta = answer.findElement(By.cssSelector(".meta")).getText();
        return Integer.parseInt(meta.replaceAll(".*prompt (\\d+) new tokens.*", "$1"));
    }

    @Test
    void anAttachedClipAndARecordingAreHeard() throws Exception {
        File driverFile = chromedriver();
        Assumptions.assumeTrue(driverFile != null, "no chromedriver installed (apt-get install chromium chromium-driver)");
        Path dir = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(dir.resolve("gemma3n-mm-tiny-F16.gguf").toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        try (JemmaServer server = TestServers.start(c, home)) {
            ChromeOptions options = new ChromeOptions();
            String bin = chromium();
            if (bin != null) options.setBinary(bin);
            options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-extensions", "--no-first-run", "--window-size=1100,800",
                    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                    "--user-data-dir=" + home.resolve("chrome-profile"));
            ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driverFile)
                    .usingAnyFreePort().withLogFile(home.resolve("chromedriver.log").toFile()).build();
            ChromeDriver driver = new ChromeDriver(service, options);
            try {
                driver.get(server.uri() + "/");
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(120));
                wait.until(d -> !d.findElements(By.cssSelector("#model option")).isEmpty());
                driver.findElement(By.id("temperature")).clear();
                driver.findElement(By.id("temperature")).sendKeys("0");
                driver.findElement(By.id("max-tokens")).sendKeys("6");

                // a WAV file through the file picker (made visible for WebDriver, as a user's click on "Audio…" opens it)
                WebElement picker = driver.findElement(By.id("audio-file"));
                driver.executeScript("arguments[0].hidden = false;", picker);
                picker.sendKeys(dir.resolve("media/mix-2.5s-16k.wav").toRealPath().toString());
                wait.until(d -> d.findElement(By.id("audio-attachments")).getText().contains("mix-2.5s-16k.wav"));
                WebElement first = ask(driver, wait, "Transcribe this audio clip.", 1);
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                assertThat(promptTokens(first)).as("the clip's soft tokens are in the prompt").isGreaterThan(188);
                assertThat(driver.findElement(By.id("audio-attachments")).getText()).isEmpty();

                // the microphone (Chromium's fake device plays a tone)
                driver.findElement(By.id("new-chat")).click();
                driver.findElement(By.id("record")).click();
                wait.until(d -> d.findElement(By.id("record")).getText().equals("Stop recording"));
                Thread.sleep(1500);
                driver.findElement(By.id("record")).click();
                wait.until(d -> d.findElement(By.id("audio-attachments")).getText().contains("recording ("));
                WebElement second = ask(driver, wait, "Transcribe this.", 1);
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).as(driver.findElement(By.id("messages")).getText()).isEmpty();
                assertThat(promptTokens(second)).isGreaterThan(188);
            } finally {
                driver.quit();
            }
        }
    }
}
